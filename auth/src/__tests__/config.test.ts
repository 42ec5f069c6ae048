import { ConfigError } from '@ticketing/common';
import { loadAuthConfig } from '../config';

describe('auth config', () => {
  it('lists every missing variable at once', () => {
    expect(() => loadAuthConfig({})).toThrow(ConfigError);
    try {
      loadAuthConfig({});
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        'MONGO_URI is required but not set',
        'JWT_KEY is required but not set',
        'NATS_URL is required but not set',
      ]);
    }
  });

  it('refuses a JWT_KEY shorter than 32 characters and a malformed MONGO_URI and PORT', () => {
    try {
      loadAuthConfig({ JWT_KEY: 'short', MONGO_URI: 'http://x', PORT: 'eighty' });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        'PORT must be an integer (got "eighty")',
        'MONGO_URI must use mongodb:// or mongodb+srv:// (got "http://x")',
        'JWT_KEY must be at least 32 characters long (got 5)',
        'NATS_URL is required but not set',
      ]);
    }
  });

  it('applies defaults', () => {
    const config = loadAuthConfig({
      JWT_KEY: 'k'.repeat(32),
      MONGO_URI: 'mongodb://localhost/auth',
      NATS_URL: 'nats://localhost:4222',
    });
    expect(config).toMatchObject({ PORT: 3000, NODE_ENV: 'development', JWT_EXPIRES_IN_SECONDS: 86400 });
  });
});
