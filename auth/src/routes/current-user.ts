import { Router } from 'express';

export const currentUserRouter = Router().get('/api/users/currentuser', (req, res) => {
  res.json({ currentUser: req.currentUser ?? null });
});
