import mongoose from 'mongoose';
import { duplicateKeyFields, isDuplicateKeyError } from '..';
import { closeTestMongo, connectTestMongo } from '../testing';

/**
 * Which unique index refused an insert: read from the error where the server names it, so that a
 * caller (orders' createOrder) reads the database only where it does not.
 */

const Seat = mongoose.model(
  'DuplicateKeySeat',
  new mongoose.Schema({ row: { type: String, unique: true }, code: { type: String, unique: true } }),
);

beforeAll(async () => {
  await connectTestMongo();
  await Seat.init();
});

afterAll(async () => {
  await closeTestMongo();
});

describe('duplicateKeyFields', () => {
  it('names the fields of the index a MongoDB duplicate key error gives (its keyPattern)', () => {
    // The error as MongoDB 7 sends it for a unique index on ticketLock.
    const fromMongo = new mongoose.mongo.MongoServerError({
      ok: 0,
      code: 11000,
      errmsg: 'E11000 duplicate key error collection: orders.orders index: ticketLock_1 dup key: { ticketLock: 1 }',
      keyPattern: { ticketLock: 1 },
      keyValue: { ticketLock: 1 },
    });
    expect(isDuplicateKeyError(fromMongo)).toBe(true);
    expect(duplicateKeyFields(fromMongo)).toEqual(['ticketLock']);
  });

  it('says nothing for the test server’s error, which names no index, nor for other errors', async () => {
    await Seat.create({ row: 'A', code: 'A1' });
    const refused = await Seat.create({ row: 'A', code: 'A2' }).catch((err: unknown) => err);

    expect(isDuplicateKeyError(refused)).toBe(true);
    const named = duplicateKeyFields(refused);
    // FerretDB (the test server) gives no keyPattern; a MongoDB behind MONGO_URI gives the index.
    expect(named === undefined || (named.length === 1 && named[0] === 'row')).toBe(true);
    expect(duplicateKeyFields(new Error('E11000 in a message only'))).toBeUndefined();
  });
});
