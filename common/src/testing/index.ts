export * from './infra';
export * from './probes';
export * from './service';
export * from './test-env';
export * from './tcp-proxy';
export * from './stripe-test-mode';
export * from './jetstream-inspect';
