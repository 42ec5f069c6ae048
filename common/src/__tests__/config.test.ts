import {
  ConfigError,
  busConfigSpec,
  httpConfigSpec,
  int,
  jwtConfigSpec,
  loadConfig,
  mongoConfigSpec,
  optionalStr,
  str,
  url,
} from '..';

const serviceSpec = { ...httpConfigSpec, ...mongoConfigSpec, ...jwtConfigSpec, ...busConfigSpec };
const validEnv = {
  MONGO_URI: 'mongodb://tickets-mongo-srv:27017/tickets',
  JWT_KEY: 'k'.repeat(32),
  NATS_URL: 'nats://nats-srv:4222',
};

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('returns typed values with the defaults filled in', () => {
    const config = loadConfig(serviceSpec, validEnv);

    expect(config).toEqual({
      ...validEnv,
      PORT: 3000,
      METRICS_PORT: 9464,
      NODE_ENV: 'development',
      TRUST_PROXY_HOPS: 1,
      NATS_CLUSTER_ID: 'ticketing',
      NATS_CLIENT_ID: undefined,
      EVENT_BUS: 'stan',
      JETSTREAM_MAX_DELIVER: 10,
      JETSTREAM_REPLICAS: 1,
      JWT_EXPIRES_IN_SECONDS: 86400,
    });
  });

  it('lists every missing variable at once instead of failing on the first', () => {
    const problems = problemsOf(() => loadConfig(serviceSpec, {}));

    expect(problems).toEqual([
      'MONGO_URI is required but not set',
      'JWT_KEY is required but not set',
      'NATS_URL is required but not set',
    ]);
  });

  it('lists malformed values with what was wrong', () => {
    const problems = problemsOf(() =>
      loadConfig(serviceSpec, {
        ...validEnv,
        PORT: '80a',
        NODE_ENV: 'staging',
        JWT_KEY: 'short',
        MONGO_URI: 'postgres://db',
        NATS_URL: 'not a url',
      }),
    );

    expect(problems).toEqual([
      'PORT must be an integer (got "80a")',
      'NODE_ENV must be one of development, production, test (got "staging")',
      'MONGO_URI must use mongodb:// or mongodb+srv:// (got "postgres://db")',
      'JWT_KEY must be at least 32 characters long (got 5)',
      'NATS_URL must be a URL (got "not a url")',
    ]);
  });

  it('says all of it in the error message, one problem per line', () => {
    expect(() => loadConfig(serviceSpec, { ...validEnv, PORT: '70000' })).toThrow(
      'Invalid configuration:\n  - PORT must be <= 65535 (got 70000)',
    );
  });

  it('parses each kind of variable', () => {
    const spec = {
      COUNT: int({ min: 1 }),
      NAME: str({ default: 'anon' }),
      MAYBE: optionalStr(),
      ENDPOINT: url({ protocols: ['http', 'https'] }),
    };

    expect(loadConfig(spec, { COUNT: ' 42 ', MAYBE: '', ENDPOINT: 'https://x.test' })).toEqual({
      COUNT: 42,
      NAME: 'anon',
      MAYBE: undefined,
      ENDPOINT: 'https://x.test',
    });
    expect(problemsOf(() => loadConfig(spec, { COUNT: '0', ENDPOINT: 'ftp://x' }))).toEqual([
      'COUNT must be >= 1 (got 0)',
      'ENDPOINT must use http:// or https:// (got "ftp://x")',
    ]);
  });
});
