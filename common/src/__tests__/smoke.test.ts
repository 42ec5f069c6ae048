import mongoose, { Schema } from 'mongoose';
import {
  Listener,
  OutboxRelay,
  Publisher,
  Subjects,
  outboxPlugin,
  stageEvent,
  versionPlugin,
  type TicketCreatedEvent,
} from '..';
import { EventProbe, closeTestMongo, connectTestBus, connectTestMongo, eventually, silentLogger } from '../testing';

const id = () => new mongoose.Types.ObjectId().toHexString();

class P extends Publisher<TicketCreatedEvent> {
  readonly subject = Subjects.TicketCreated;
}
class L extends Listener<TicketCreatedEvent> {
  readonly subject = Subjects.TicketCreated;
  readonly queueGroupName = 'smoke';
  seen: string[] = [];
  async onMessage(data: TicketCreatedEvent['data']) {
    this.seen.push(data.title);
  }
}

const schema = new Schema({ title: String }, { versionKey: false });
schema.plugin(versionPlugin);
schema.plugin(outboxPlugin);
const Thing = mongoose.model('Thing', schema);

beforeAll(connectTestMongo);
afterAll(closeTestMongo);

it('publishes, listens, versions and relays', async () => {
  const bus = await connectTestBus('smoke');
  const probe = new EventProbe(bus, [Subjects.TicketCreated]);
  const listener = new L(bus, silentLogger).listen();
  await new P(bus).publish({ id: id(), version: 0, title: 'a', price: 1, userId: 'u' });
  await eventually(() => expect(listener.seen).toEqual(['a']));

  const relay = new OutboxRelay({ bus, models: [Thing], logger: silentLogger });
  const t = new Thing({ title: 'x' });
  stageEvent(t as never, Subjects.TicketCreated, { id: t.id as string, version: 0, title: 'x', price: 2, userId: 'u' });
  await relay.commit(t as never);
  await probe.waitFor(Subjects.TicketCreated, (d) => d.title === 'x');
  expect((await Thing.findById(t.id).lean<{ outbox: unknown[] }>())?.outbox).toEqual([]);

  const a = await Thing.findById(t.id);
  const b = await Thing.findById(t.id);
  a!.set('title', 'y');
  await a!.save();
  expect(a!.get('version')).toBe(1);
  b!.set('title', 'z');
  await expect(b!.save()).rejects.toThrow(/changed by someone else/);

  // pending query used by the relay's sweep
  await Thing.updateOne(
    { _id: t.id },
    {
      $push: {
        outbox: {
          id: 'e1',
          subject: Subjects.TicketCreated,
          data: { id: t.id, version: 0, title: 'swept', price: 3, userId: 'u' },
          createdAt: new Date(),
        },
      },
    },
  );
  expect(await Thing.countDocuments({ 'outbox.0': { $exists: true } })).toBe(1);
  expect(await relay.sweep()).toBe(0);
  await probe.waitFor(Subjects.TicketCreated, (d) => d.title === 'swept');
  await relay.stop();
  await bus.close();
});
