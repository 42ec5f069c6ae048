import express from 'express';
import mongoose, { Schema, type HydratedDocument, type Model } from 'mongoose';
import request from 'supertest';
import {
  VersionConflictError,
  createApp,
  deleteIfVersion,
  ferretdbProfile,
  mongodbProfile,
  profileFromBuildInfo,
  serverProfile,
  updateIfVersion,
  useServerProfile,
  versionPlugin,
  type ServerProfile,
  type Versioned,
  type VersionedStatics,
} from '..';
import { closeTestMongo, connectTestMongo, silentLogger } from '../testing';

interface Item extends Versioned {
  name: string;
  note?: string;
}
type ItemDoc = HydratedDocument<Item>;
type ItemModel = Model<Item> & VersionedStatics<ItemDoc>;

const ownerSchema = new Schema<Item, ItemModel>({ name: String, note: String }, { versionKey: false });
ownerSchema.plugin(versionPlugin, { mode: 'owner' });
const Owned = mongoose.model<Item, ItemModel>('VersionedOwned', ownerSchema);

const replicaSchema = new Schema<Item, ItemModel>({ name: String, note: String }, { versionKey: false });
replicaSchema.plugin(versionPlugin, { mode: 'replica' });
const Replica = mongoose.model<Item, ItemModel>('VersionedReplica', replicaSchema);

let detected: ServerProfile;
beforeAll(async () => {
  await connectTestMongo();
  detected = await serverProfile(mongoose.connection);
});
afterAll(closeTestMongo);

describe('the server profile', () => {
  it('is the FerretDB one against FerretDB, which refuses a partial index (MongoDB builds it)', async () => {
    const partialIndex = mongoose.connection
      .collection('profile_probe')
      .createIndex({ a: 1 }, { partialFilterExpression: { a: { $exists: true } } });
    const refused = await partialIndex.then(
      () => false,
      () => true,
    );

    expect(detected).toBe(refused ? ferretdbProfile : mongodbProfile);
  });

  it("is the FerretDB one for FerretDB 1.24's buildInfo answer", () => {
    const ferretdb = {
      version: '7.0.42',
      gitVersion: 'unknown',
      modules: [],
      sysInfo: 'deprecated',
      versionArray: [7, 0, 42, 0],
      bits: 64,
      debug: false,
      maxBsonObjectSize: 16777216,
      buildEnvironment: {},
      ferretdbVersion: 'unknown',
      ferretdbFeatures: { aggregationStages: ['$match', '$group'] },
      ok: 1,
    };

    expect(profileFromBuildInfo(ferretdb)).toBe(ferretdbProfile);
  });

  it("is the MongoDB one for MongoDB 7's buildInfo answer", () => {
    const mongodb7 = {
      version: '7.0.14',
      gitVersion: 'ce59cfc6a3c5e5c067dca0d30697edd68d4f5188',
      modules: [],
      allocator: 'tcmalloc',
      javascriptEngine: 'mozjs',
      sysInfo: 'deprecated',
      versionArray: [7, 0, 14, 0],
      openssl: { running: 'OpenSSL 3.0.2 15 Mar 2022', compiled: 'OpenSSL 3.0.2 15 Mar 2022' },
      buildEnvironment: { distmod: 'ubuntu2204', distarch: 'x86_64', target_os: 'linux' },
      bits: 64,
      debug: false,
      maxBsonObjectSize: 16777216,
      storageEngines: ['devnull', 'inMemory', 'wiredTiger'],
      ok: 1,
    };

    expect(profileFromBuildInfo(mongodb7)).toBe(mongodbProfile);
    expect(mongodbProfile).toMatchObject({ atomicConditionalWrites: true, indexedFilters: true });
    expect(ferretdbProfile).toMatchObject({ atomicConditionalWrites: false, indexedFilters: false });
  });
});

async function load(model: ItemModel, id: unknown): Promise<ItemDoc> {
  const doc = await model.findById(id);
  if (doc === null) throw new Error('document vanished');
  return doc;
}

// Both implementations run against the test server: the MongoDB one's queries are valid on
// FerretDB, only slower there and without atomic conditional writes.
describe.each<ServerProfile>([mongodbProfile, ferretdbProfile])('with the $server profile', (profile) => {
  beforeAll(() => useServerProfile(mongoose.connection, profile));
  afterAll(() => useServerProfile(mongoose.connection, detected));

  describe('versionPlugin, owner mode', () => {
    it('stores a new record at version 0 and adds 1 on every save that changes it: 0, 1, 2', async () => {
      const item = await Owned.create({ name: 'a' });
      const versions = [item.version];

      for (const name of ['b', 'c']) {
        item.name = name;
        await item.save();
        versions.push(item.version);
      }

      expect(versions).toEqual([0, 1, 2]);
      expect((await Owned.findById(item._id).lean())?.version).toBe(2);
    });

    it('uses `version`, not mongoose\u2019s `__v`', async () => {
      const item = await Owned.create({ name: 'plain' });

      const stored = await Owned.findById(item._id).lean();

      expect(stored).toHaveProperty('version', 0);
      expect(stored).not.toHaveProperty('__v');
    });

    it('leaves the version alone when a save changes nothing', async () => {
      const item = await Owned.create({ name: 'same' });

      await item.save();

      expect((await Owned.findById(item._id).lean())?.version).toBe(0);
    });

    it('fails the second of two copies loaded at the same version with VersionConflictError', async () => {
      const { _id } = await Owned.create({ name: 'original' });
      const first = await load(Owned, _id);
      const second = await load(Owned, _id);

      first.name = 'first writer';
      await first.save();
      second.name = 'second writer';
      const stale = second.save();

      await expect(stale).rejects.toBeInstanceOf(VersionConflictError);
      await expect(stale).rejects.toMatchObject({ statusCode: 409, code: 'VERSION_CONFLICT' });
      expect(await Owned.findById(_id).lean()).toMatchObject({ name: 'first writer', version: 1 });
      // The stale copy's version was not left bumped, and a reload brings a copy that saves.
      expect(second.version).toBe(0);
      const fresh = await load(Owned, _id);
      fresh.name = 'after reload';
      await fresh.save();
      expect(fresh.version).toBe(2);
    });

    it('turns the conflict into a 409 through the central error handler', async () => {
      const { _id } = await Owned.create({ name: 'http' });
      const router = express.Router().put('/items/:id', async (req, res) => {
        const stale = await load(Owned, req.params.id);
        // Another writer gets in between this read and this save.
        await Owned.updateOne({ _id: req.params.id }, { $set: { name: 'other' }, $inc: { version: 1 } });
        stale.name = String((req.body as { name: string }).name);
        await stale.save();
        res.json(stale);
      });
      const app = createApp({ logger: silentLogger, secureCookies: false, readiness: {}, routers: [router] });

      const res = await request(app)
        .put(`/items/${String(_id)}`)
        .send({ name: 'mine' });

      expect(res.status).toBe(409);
      expect(res.body).toEqual({
        errors: [{ message: expect.stringContaining('changed by someone else'), code: 'VERSION_CONFLICT' }],
      });
    });
  });

  describe('versionPlugin, replica mode', () => {
    const id = () => new mongoose.Types.ObjectId();

    it('findByEvent finds the record an event at version N applies to (the copy at N-1)', async () => {
      const _id = id();
      await Replica.create({ _id, name: 'r', version: 3 });

      expect((await Replica.findByEvent({ id: String(_id), version: 4 }))?.version).toBe(3);
      expect(await Replica.findByEvent({ id: String(_id), version: 5 })).toBeNull();
      expect(await Replica.findByEvent({ id: String(_id), version: 3 })).toBeNull();
    });

    it("stores the owner's version as given when applying the next event", async () => {
      const _id = id();
      await Replica.create({ _id, name: 'r', version: 0 });
      const doc = await Replica.findByEvent({ id: String(_id), version: 1 });

      doc?.set({ name: 'r1', version: 1 });
      await doc?.save();

      expect(await Replica.findById(_id).lean()).toMatchObject({ name: 'r1', version: 1 });
    });

    it('refuses to move a copy to version N unless the stored copy is at N-1', async () => {
      const _id = id();
      await Replica.create({ _id, name: 'r', version: 0 });
      const stale = await load(Replica, _id);
      await Replica.updateOne({ _id }, { $set: { version: 1 } });

      stale.set({ name: 'from v0', version: 1 });

      await expect(stale.save()).rejects.toBeInstanceOf(VersionConflictError);
      expect(await Replica.findById(_id).lean()).toMatchObject({ name: 'r', version: 1 });
    });

    it('updateIfVersion applies an update only on top of the expected version', async () => {
      const copy = await Replica.create({ name: 'r', version: 3 });
      const id = String(copy._id);

      const stale = await updateIfVersion(Replica, id, 2, { $set: { name: 'from v2', version: 3 } });
      const next = await updateIfVersion(Replica, id, 3, { $set: { name: 'v4', version: 4 } });
      const again = await updateIfVersion(Replica, id, 3, { $set: { name: 'v4 again', version: 4 } });

      expect([stale, next, again]).toEqual([false, true, false]);
      expect(await Replica.findById(id).lean()).toMatchObject({ name: 'v4', version: 4 });
    });

    it("updateIfVersion with versionJustRead relies on the caller's read only where the write does not check", async () => {
      const copy = await Replica.create({ name: 'r', version: 3 });
      const id = String(copy._id);
      const read = await Replica.findById(id).select({ version: 1 }).lean();
      // Another writer overtakes the caller's read before its update (a window the caller must keep
      // as short as the guard's own read-then-write).
      await Replica.updateOne({ _id: id }, { $set: { version: 4 } });

      const applied = await updateIfVersion(
        Replica,
        id,
        read!.version,
        { $set: { name: 'late' } },
        {
          versionJustRead: true,
        },
      );

      // Atomic conditional writes: the version stays in the update's filter. Otherwise the read is the check.
      const readIsTheCheck = !profile.atomicConditionalWrites;
      expect(applied).toBe(readIsTheCheck);
      expect((await Replica.findById(id).lean())?.name).toBe(readIsTheCheck ? 'late' : 'r');
    });

    it('deleteIfVersion deletes only at the expected version and when the other conditions hold', async () => {
      const { _id } = await Replica.create({ name: 'r', note: 'pending', version: 2 });

      const stale = await deleteIfVersion(Replica, _id, 1, { note: 'pending' });
      const otherNote = await deleteIfVersion(Replica, _id, 2, { note: { $in: ['settled', 'unknown'] } });
      const kept = await Replica.exists({ _id });
      const deleted = await deleteIfVersion(Replica, _id, 2, { note: { $in: ['pending', 'unknown'] } });
      const again = await deleteIfVersion(Replica, _id, 2);

      expect([stale, otherNote, kept !== null, deleted, again]).toEqual([false, false, true, true, false]);
      expect(await Replica.exists({ _id })).toBeNull();
    });

    it('leaves the version alone for a local-only change', async () => {
      const doc = await Replica.create({ _id: id(), name: 'r', version: 7 });

      doc.note = 'local bookkeeping';
      await doc.save();

      expect(await Replica.findById(doc._id).lean()).toMatchObject({ note: 'local bookkeeping', version: 7 });
    });
  });
});
