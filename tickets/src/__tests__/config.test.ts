import { ConfigError } from '@ticketing/common';
import { loadTicketsConfig } from '../config';

describe('tickets configuration', () => {
  it('reads everything the service needs, with defaults', () => {
    const config = loadTicketsConfig({
      MONGO_URI: 'mongodb://tickets-mongo-srv:27017/tickets',
      JWT_KEY: 'k'.repeat(32),
      NATS_URL: 'nats://nats-srv:4222',
      NATS_CLIENT_ID: 'tickets-depl-abc',
      NODE_ENV: 'production',
    });

    expect(config).toMatchObject({
      PORT: 3000,
      NODE_ENV: 'production',
      NATS_CLUSTER_ID: 'ticketing',
      NATS_CLIENT_ID: 'tickets-depl-abc',
    });
  });

  it('refuses to start without Mongo, the JWT key and the bus, naming each', () => {
    expect(() => loadTicketsConfig({})).toThrow(ConfigError);
    expect(() => loadTicketsConfig({})).toThrow(/MONGO_URI[\s\S]*JWT_KEY[\s\S]*NATS_URL/);
  });
});
