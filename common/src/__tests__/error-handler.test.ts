import express from 'express';
import { body } from 'express-validator';
import mongoose, { Schema } from 'mongoose';
import request from 'supertest';
import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  createApp,
  requireAuth,
  validateRequest,
} from '..';
import { TEST_JWT_KEY, closeTestMongo, connectTestMongo, sessionCookie, silentLogger } from '../testing';

const Account = mongoose.model(
  'ErrorHandlerAccount',
  new Schema({ email: { type: String, required: true, unique: true }, age: { type: Number, min: 0 } }),
);

// A database nobody listens on: queries fail the way they do while Mongo is away.
const unreachable = mongoose.createConnection('mongodb://127.0.0.1:1/none', { serverSelectionTimeoutMS: 200 });
const Offline = unreachable.model('Offline', new Schema({ x: Number }, { bufferTimeoutMS: 300 }));
unreachable.on('error', () => {});

const router = express.Router();
router.get('/boom/app', () => {
  throw new BadRequestError('Seat already taken', 'TICKET_RESERVED', 'seat');
});
router.get('/boom/not-found', () => {
  throw new NotFoundError('Ticket not found', 'TICKET_NOT_FOUND');
});
router.get('/boom/forbidden', () => {
  throw new ForbiddenError();
});
router.get('/boom/conflict', async () => {
  throw new ConflictError('Taken', 'VERSION_CONFLICT');
});
router.get('/boom/bug', async () => {
  throw new TypeError("Cannot read properties of undefined (reading 'secret internals')");
});
router.get('/boom/cast/:id', async (req) => {
  await Account.findById(req.params.id);
});
router.post('/boom/mongoose-validation', async (req) => {
  await Account.create(req.body as object);
});
router.post('/boom/duplicate', async () => {
  await Account.create({ email: 'dup@example.com' });
  await Account.create({ email: 'dup@example.com' });
});
router.get('/boom/offline', async () => {
  await Offline.findOne();
});
router.post(
  '/validated',
  body('name').isString().withMessage('Name must be a string'),
  body('age').isInt({ min: 0 }).withMessage('Age must be a whole number'),
  validateRequest,
  (_req, res) => {
    res.json({ ok: true });
  },
);
router.get('/private', requireAuth, (req, res) => {
  res.json({ user: req.currentUser });
});

const app = createApp({
  logger: silentLogger,
  jwtKey: TEST_JWT_KEY,
  secureCookies: false,
  readiness: {},
  routers: [router],
});

beforeAll(async () => {
  await connectTestMongo();
  await Account.init();
});

afterAll(async () => {
  await unreachable.close();
  await closeTestMongo();
});

describe('the central error handler', () => {
  it('answers an AppError with its status, message, code and field', async () => {
    const res = await request(app).get('/boom/app');

    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [{ message: 'Seat already taken', code: 'TICKET_RESERVED', field: 'seat' }] });
  });

  it.each([
    ['/boom/not-found', 404, 'TICKET_NOT_FOUND'],
    ['/boom/forbidden', 403, 'FORBIDDEN'],
    ['/boom/conflict', 409, 'VERSION_CONFLICT'],
  ])('maps %s to %i %s', async (path, status, code) => {
    const res = await request(app).get(path);

    expect(res.status).toBe(status);
    expect(res.body.errors[0].code).toBe(code);
  });

  it('hides an unexpected error behind a generic 500', async () => {
    const res = await request(app).get('/boom/bug');

    expect(res.status).toBe(500);
    expect(res.body).toEqual({ errors: [{ message: 'Something went wrong', code: 'INTERNAL' }] });
    expect(JSON.stringify(res.body)).not.toContain('secret internals');
  });

  it('answers a malformed id reaching Mongoose (CastError) with 400, not 500', async () => {
    const res = await request(app).get('/boom/cast/not-an-id');

    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ code: 'INVALID_VALUE', field: '_id' });
  });

  it('answers a Mongoose validation error with 400 and one entry per field', async () => {
    const res = await request(app).post('/boom/mongoose-validation').send({ age: -1 });

    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['age', 'email']);
  });

  it('answers a duplicate key with 409 DUPLICATE', async () => {
    const res = await request(app).post('/boom/duplicate');

    expect(res.status).toBe(409);
    expect(res.body.errors[0].code).toBe('DUPLICATE');
  });

  it('answers a body that is not JSON with 400 MALFORMED_JSON', async () => {
    const res = await request(app).post('/validated').set('Content-Type', 'application/json').send('{"name": ');

    expect(res.status).toBe(400);
    expect(res.body.errors[0].code).toBe('MALFORMED_JSON');
  });

  it('answers 503 while the database cannot be reached', async () => {
    const res = await request(app).get('/boom/offline');

    expect(res.status).toBe(503);
    expect(res.body.errors[0].code).toBe('SERVICE_UNAVAILABLE');
  });

  it('answers an unknown route with a JSON 404', async () => {
    const res = await request(app).get('/nowhere');

    expect(res.status).toBe(404);
    expect(res.body.errors[0].code).toBe('ROUTE_NOT_FOUND');
  });
});

describe('validateRequest', () => {
  it('lists every invalid field with 400 VALIDATION_FAILED', async () => {
    const res = await request(app).post('/validated').send({ name: 3, age: 'old' });

    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      { message: 'Name must be a string', field: 'name', code: 'VALIDATION_FAILED' },
      { message: 'Age must be a whole number', field: 'age', code: 'VALIDATION_FAILED' },
    ]);
  });

  it('lets a valid request through', async () => {
    await request(app).post('/validated').send({ name: 'Ann', age: 30 }).expect(200, { ok: true });
  });
});

describe('requireAuth and currentUser', () => {
  it('refuses a request without a session with 401 NOT_AUTHORIZED', async () => {
    const res = await request(app).get('/private');

    expect(res.status).toBe(401);
    expect(res.body.errors[0].code).toBe('NOT_AUTHORIZED');
  });

  it('treats a session signed with another key as anonymous', async () => {
    const forged = sessionCookie({ id: 'u1', email: 'a@b.c' }, 'some-other-key-that-is-long-enough-000000');

    await request(app).get('/private').set('Cookie', forged).expect(401);
  });

  it('lets a signed-in user through with their identity', async () => {
    const res = await request(app)
      .get('/private')
      .set('Cookie', sessionCookie({ id: 'u1', email: 'a@b.c' }));

    expect(res.status).toBe(200);
    expect(res.body.user).toEqual({ id: 'u1', email: 'a@b.c' });
  });
});
