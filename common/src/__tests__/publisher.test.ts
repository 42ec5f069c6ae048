import {
  Publisher,
  ServiceUnavailableError,
  Subjects,
  makeClientId,
  requestContext,
  type TicketCreatedEvent,
  type Bus,
  createBus,
} from '..';
import { EventProbe, connectTestBus, natsTestConfig, silentLogger } from '../testing';

class TicketCreatedPublisher extends Publisher<TicketCreatedEvent> {
  readonly subject = Subjects.TicketCreated;
}

const data = (title: string): TicketCreatedEvent['data'] => ({
  id: '64b7f0c2a1b2c3d4e5f60718',
  version: 0,
  title,
  price: 19.99,
  userId: 'user-1',
});

let bus: Bus;
let probe: EventProbe;

beforeAll(async () => {
  bus = await connectTestBus('publisher');
  probe = new EventProbe(bus, [Subjects.TicketCreated]);
});

afterAll(async () => {
  await bus.close();
});

describe('Publisher', () => {
  it('publishes on its subject and resolves with the server-assigned id once stored', async () => {
    const guid = await new TicketCreatedPublisher(bus).publish(data('typed'));

    expect(guid).toEqual(expect.any(String));
    expect(await probe.waitFor(Subjects.TicketCreated, (d) => d.title === 'typed')).toEqual(data('typed'));
  });

  it('adds metadata: the given event id, and the request id of the request being served', async () => {
    await requestContext.run({ requestId: 'req-publisher' }, () =>
      new TicketCreatedPublisher(bus).publish(data('with-meta'), { id: 'fixed-event-id' }),
    );

    await probe.waitFor(Subjects.TicketCreated, (d) => d.title === 'with-meta');
    expect(probe.events.find((e) => e.id === 'fixed-event-id')).toMatchObject({
      subject: Subjects.TicketCreated,
      requestId: 'req-publisher',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it('rejects instead of resolving when the bus cannot take the event', async () => {
    const closed = createBus({ ...natsTestConfig(), clientId: makeClientId('test-closed'), logger: silentLogger });
    await closed.close();

    await expect(new TicketCreatedPublisher(closed).publish(data('dropped'))).rejects.toBeInstanceOf(
      ServiceUnavailableError,
    );
  });
});
