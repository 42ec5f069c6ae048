import { Router } from 'express';

export const signoutRouter = Router().post('/api/users/signout', (req, res) => {
  req.session = null;
  res.json({});
});
