import express from 'express';
import mongoose, { Schema, type HydratedDocument, type Model } from 'mongoose';
import request from 'supertest';
import {
  VersionConflictError,
  createApp,
  guardOf,
  updateIfVersion,
  useVersionGuard,
  versionPlugin,
  type VersionGuard,
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

let detected: VersionGuard;
beforeAll(async () => {
  await connectTestMongo();
  detected = await guardOf(mongoose.connection);
});
afterAll(closeTestMongo);

it('asks the server which guard it needs: the version in the filter, or a read by _id on FerretDB', async () => {
  const info = await mongoose.connection.db!.admin().command({ buildInfo: 1 });
  expect(detected).toBe('ferretdbVersion' in info ? 'read' : 'filter');
});

async function load(model: ItemModel, id: unknown): Promise<ItemDoc> {
  const doc = await model.findById(id);
  if (doc === null) throw new Error('document vanished');
  return doc;
}

describe.each<VersionGuard>(['filter', 'read'])('with the %s guard', (guard) => {
  beforeAll(() => useVersionGuard(mongoose.connection, guard));
  afterAll(() => useVersionGuard(mongoose.connection, detected));

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

    it("updateIfVersion with versionJustRead relies on the caller's read only where the server does not check", async () => {
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

      // MongoDB: the version stays in the update's filter, atomically. FerretDB: the read is the check.
      expect(applied).toBe(guard === 'read');
      expect((await Replica.findById(id).lean())?.name).toBe(guard === 'read' ? 'late' : 'r');
    });

    it('leaves the version alone for a local-only change', async () => {
      const doc = await Replica.create({ _id: id(), name: 'r', version: 7 });

      doc.note = 'local bookkeeping';
      await doc.save();

      expect(await Replica.findById(doc._id).lean()).toMatchObject({ note: 'local bookkeeping', version: 7 });
    });
  });
});
