import { ConfigError } from '@ticketing/common';
import { loadOrdersConfig } from '../config';

const env = {
  MONGO_URI: 'mongodb://127.0.0.1:27017/orders',
  JWT_KEY: 'k'.repeat(32),
  NATS_URL: 'nats://127.0.0.1:4222',
};

describe('orders configuration', () => {
  it('holds a new order for 15 minutes unless EXPIRATION_WINDOW_SECONDS says otherwise', () => {
    expect(loadOrdersConfig(env).EXPIRATION_WINDOW_SECONDS).toBe(900);
    expect(loadOrdersConfig({ ...env, EXPIRATION_WINDOW_SECONDS: '60' }).EXPIRATION_WINDOW_SECONDS).toBe(60);
  });

  it('rejects a window under one second and names every missing variable at once', () => {
    expect(() => loadOrdersConfig({ ...env, EXPIRATION_WINDOW_SECONDS: '0' })).toThrow(/EXPIRATION_WINDOW_SECONDS/);
    try {
      loadOrdersConfig({});
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.join('\n')).toMatch(/MONGO_URI[\s\S]*JWT_KEY[\s\S]*NATS_URL/);
    }
  });
});
