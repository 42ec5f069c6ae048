import { closeTestMongo, connectTestMongo, sessionCookie } from '@ticketing/common/testing';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { Revocation } from '../models/revocation';
import { User } from '../models/user';
import { PASSWORD, closeTestApps, testApp, uniqueEmail } from './harness';

const app = testApp();

beforeAll(async () => {
  await connectTestMongo();
  await Promise.all([User.init(), Revocation.init()]);
});
afterAll(async () => {
  await closeTestApps();
  await closeTestMongo();
});

function cookieOf(res: request.Response): string[] {
  const cookies = res.get('Set-Cookie');
  if (cookies === undefined) throw new Error('no Set-Cookie header');
  return cookies;
}

function signup(email = uniqueEmail(), password = PASSWORD): request.Test {
  return request(app).post('/api/users/signup').send({ email, password });
}

describe('POST /api/users/signup', () => {
  it('creates the user and answers 201 with id and email, never the password hash', async () => {
    const email = uniqueEmail();
    const res = await signup(email).expect(201);
    expect(res.body).toEqual({ id: expect.any(String), email });
    const stored = await User.findOne({ email });
    expect(stored?.passwordHash).toMatch(/^scrypt\$[0-9a-f]{32}\$[0-9a-f]{128}$/);
  });

  it('sets an httpOnly, SameSite=Lax session cookie', async () => {
    const cookie = cookieOf(await signup().expect(201)).join(';');
    expect(cookie).toMatch(/session=/);
    expect(cookie.toLowerCase()).toContain('httponly');
    expect(cookie.toLowerCase()).toContain('samesite=lax');
  });

  it('stores the email lower-cased and trimmed', async () => {
    const email = uniqueEmail();
    const res = await signup(`  ${email.toUpperCase()} `).expect(201);
    expect(res.body.email).toBe(email);
  });

  it('salts every password: two users with one password get different hashes', async () => {
    const a = uniqueEmail();
    const b = uniqueEmail();
    await signup(a).expect(201);
    await signup(b).expect(201);
    const [ua, ub] = await Promise.all([User.findOne({ email: a }), User.findOne({ email: b })]);
    expect(ua?.passwordHash).not.toBe(ub?.passwordHash);
  });

  it('rejects an invalid email with 400 and a field error', async () => {
    const res = await signup('not-an-email').expect(400);
    expect(res.body.errors).toEqual([{ message: 'Email must be valid', field: 'email', code: 'VALIDATION_FAILED' }]);
  });

  it.each([
    ['too short', 'short'],
    ['too long', 'x'.repeat(129)],
  ])('rejects a password that is %s with 400', async (_label, password) => {
    const res = await signup(uniqueEmail(), password).expect(400);
    expect(res.body.errors[0]).toMatchObject({ field: 'password', code: 'VALIDATION_FAILED' });
  });

  it('rejects a missing body with 400 listing both fields', async () => {
    const res = await request(app).post('/api/users/signup').send({}).expect(400);
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['email', 'password']);
  });

  it('rejects a duplicate email with 400 EMAIL_IN_USE', async () => {
    const email = uniqueEmail();
    await signup(email).expect(201);
    const res = await signup(email).expect(400);
    expect(res.body.errors).toEqual([{ message: 'Email in use', code: 'EMAIL_IN_USE', field: 'email' }]);
  });

  it('creates exactly one user when 10 signups with one email race', async () => {
    const email = uniqueEmail();
    const results = await Promise.all(Array.from({ length: 10 }, () => signup(email)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, ...Array<number>(9).fill(400)]);
    expect(await User.countDocuments({ email })).toBe(1);
  });

  it('rejects an operator object instead of a string with 400 and stores nothing', async () => {
    const res = await request(app)
      .post('/api/users/signup')
      .send({ email: { $gt: '' }, password: PASSWORD })
      .expect(400);
    expect(res.body.errors[0]).toMatchObject({ field: 'email', message: 'Email must be a string' });
  });

  it('answers malformed JSON with 400 MALFORMED_JSON', async () => {
    const res = await request(app)
      .post('/api/users/signup')
      .set('Content-Type', 'application/json')
      .send('{"email": ')
      .expect(400);
    expect(res.body).toEqual({ errors: [{ message: 'The request body is not valid JSON', code: 'MALFORMED_JSON' }] });
  });
});

describe('POST /api/users/signin', () => {
  it('answers 200 with the user and a session cookie for the right password', async () => {
    const email = uniqueEmail();
    await signup(email).expect(201);
    const res = await request(app).post('/api/users/signin').send({ email, password: PASSWORD }).expect(200);
    expect(res.body.email).toBe(email);
    expect(cookieOf(res).join(';')).toMatch(/session=/);
  });

  it('gives the same 400 body for an unknown email and a wrong password', async () => {
    const email = uniqueEmail();
    await signup(email).expect(201);
    const unknown = await request(app)
      .post('/api/users/signin')
      .send({ email: uniqueEmail(), password: PASSWORD })
      .expect(400);
    const wrong = await request(app).post('/api/users/signin').send({ email, password: 'wrong password' }).expect(400);
    expect(unknown.body).toEqual(wrong.body);
    expect(wrong.body).toEqual({ errors: [{ message: 'Invalid credentials', code: 'INVALID_CREDENTIALS' }] });
    expect(wrong.get('Set-Cookie')).toBeUndefined();
  });

  it('rejects an operator object as password with 400 (no query injection)', async () => {
    const email = uniqueEmail();
    await signup(email).expect(201);
    const res = await request(app)
      .post('/api/users/signin')
      .send({ email, password: { $ne: null } })
      .expect(400);
    expect(res.body.errors[0]).toMatchObject({ field: 'password' });
  });

  it('rejects an operator object as email with 400 (no query injection)', async () => {
    await signup().expect(201);
    const res = await request(app)
      .post('/api/users/signin')
      .send({ email: { $gt: '' }, password: PASSWORD })
      .expect(400);
    expect(res.body.errors[0]).toMatchObject({ field: 'email' });
  });

  it('accepts the email in another case', async () => {
    const email = uniqueEmail();
    await signup(email).expect(201);
    await request(app).post('/api/users/signin').send({ email: email.toUpperCase(), password: PASSWORD }).expect(200);
  });
});

describe('GET /api/users/currentuser', () => {
  it('returns the signed-in user after signup', async () => {
    const email = uniqueEmail();
    const cookie = cookieOf(await signup(email).expect(201));
    const res = await request(app).get('/api/users/currentuser').set('Cookie', cookie).expect(200);
    expect(res.body).toEqual({ currentUser: { id: expect.any(String), email } });
  });

  it('returns null without a cookie', async () => {
    const res = await request(app).get('/api/users/currentuser').expect(200);
    expect(res.body).toEqual({ currentUser: null });
  });

  it('returns null for a token signed with another key (forged)', async () => {
    const cookie = sessionCookie({ id: 'abc', email: 'x@example.com' }, 'some-other-key-that-is-32-characters-long');
    const res = await request(app).get('/api/users/currentuser').set('Cookie', cookie).expect(200);
    expect(res.body.currentUser).toBeNull();
  });

  it('returns null for an expired token', async () => {
    const token = jwt.sign(
      { id: 'abc', email: 'x@example.com', exp: Math.floor(Date.now() / 1000) - 10 },
      'test-only-jwt-key-0123456789abcdefghijklmnop',
    );
    const cookie = [`session=${Buffer.from(JSON.stringify({ jwt: token })).toString('base64')}`];
    const res = await request(app).get('/api/users/currentuser').set('Cookie', cookie).expect(200);
    expect(res.body.currentUser).toBeNull();
  });

  it('returns null for an unsigned ("alg": "none") token', async () => {
    const token = jwt.sign({ id: 'abc', email: 'x@example.com' }, '', { algorithm: 'none' });
    const cookie = [`session=${Buffer.from(JSON.stringify({ jwt: token })).toString('base64')}`];
    const res = await request(app).get('/api/users/currentuser').set('Cookie', cookie).expect(200);
    expect(res.body.currentUser).toBeNull();
  });

  it('returns null for a cookie that is not base64 JSON', async () => {
    const res = await request(app).get('/api/users/currentuser').set('Cookie', ['session=%%%garbage']).expect(200);
    expect(res.body.currentUser).toBeNull();
  });
});

describe('POST /api/users/signout', () => {
  it('clears the session cookie', async () => {
    const cookie = cookieOf(await signup().expect(201));
    const res = await request(app).post('/api/users/signout').set('Cookie', cookie).expect(200);
    expect(cookieOf(res)[0]).toMatch(/^session=;.*expires=Thu, 01 Jan 1970/i);
  });

  it('ends the session: a copy of the cookie taken before is no longer signed in, and signing out again is fine', async () => {
    const copy = cookieOf(await signup().expect(201));
    const before = await request(app).get('/api/users/currentuser').set('Cookie', copy).expect(200);
    expect(before.body.currentUser).not.toBeNull();

    await request(app).post('/api/users/signout').set('Cookie', copy).expect(200);

    const after = await request(app).get('/api/users/currentuser').set('Cookie', copy).expect(200);
    expect(after.body).toEqual({ currentUser: null });
    expect(await Revocation.countDocuments({ userId: before.body.currentUser.id })).toBe(1);
    await request(app).post('/api/users/signout').set('Cookie', copy).expect(200, {});
    // Another session of the same user is not affected.
    const other = cookieOf(
      await request(app)
        .post('/api/users/signin')
        .send({ email: before.body.currentUser.email, password: PASSWORD })
        .expect(200),
    );
    const still = await request(app).get('/api/users/currentuser').set('Cookie', other).expect(200);
    expect(still.body.currentUser).toEqual(before.body.currentUser);
  });

  it('answers 200 and clears the cookie without a valid session', async () => {
    await request(app).post('/api/users/signout').expect(200, {});
    await request(app).post('/api/users/signout').set('Cookie', 'session=garbage').expect(200, {});
  });
});

describe('unknown routes and health', () => {
  it('answers an unknown route with a JSON 404', async () => {
    const res = await request(app).get('/api/users/nope').expect(404);
    expect(res.body.errors[0].code).toBe('ROUTE_NOT_FOUND');
  });

  it('serves /healthz and /readyz', async () => {
    await request(app).get('/healthz').expect(200, { status: 'ok' });
    const res = await request(app).get('/readyz').expect(200);
    expect(res.body).toEqual({ status: 'ready', checks: { mongo: true } });
  });

  it('echoes a sane X-Request-Id and generates one otherwise', async () => {
    const given = await request(app).get('/healthz').set('X-Request-Id', 'abc-123').expect(200);
    expect(given.get('x-request-id')).toBe('abc-123');
    const generated = await request(app).get('/healthz').set('X-Request-Id', 'bad id with spaces').expect(200);
    expect(generated.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('production cookies', () => {
  it('marks the session cookie Secure when NODE_ENV=production (behind the TLS ingress)', async () => {
    const prod = testApp({ NODE_ENV: 'production' });
    const res = await request(prod)
      .post('/api/users/signup')
      .set('X-Forwarded-Proto', 'https')
      .send({ email: uniqueEmail(), password: PASSWORD })
      .expect(201);
    expect(cookieOf(res).join(';').toLowerCase()).toContain('secure');
  });
});

describe('rate limit on signup and signin', () => {
  it('answers 429 TOO_MANY_REQUESTS with Retry-After once an IP exceeds the per-minute limit', async () => {
    const limited = testApp({ AUTH_RATE_LIMIT_PER_MINUTE: '3' });
    for (let i = 0; i < 3; i += 1) {
      await request(limited).post('/api/users/signin').send({ email: uniqueEmail(), password: PASSWORD }).expect(400);
    }
    const res = await request(limited)
      .post('/api/users/signin')
      .send({ email: uniqueEmail(), password: PASSWORD })
      .expect(429);
    expect(res.body).toEqual({
      errors: [{ message: 'Too many requests, try again later', code: 'TOO_MANY_REQUESTS' }],
    });
    expect(Number(res.get('Retry-After'))).toBeGreaterThan(0);
  });

  it('counts each client IP separately', async () => {
    const limited = testApp({ AUTH_RATE_LIMIT_PER_MINUTE: '1' });
    await request(limited).post('/api/users/signup').set('X-Forwarded-For', '10.0.0.1').send({}).expect(400);
    await request(limited).post('/api/users/signup').set('X-Forwarded-For', '10.0.0.1').send({}).expect(429);
    await request(limited).post('/api/users/signup').set('X-Forwarded-For', '10.0.0.2').send({}).expect(400);
  });
});
