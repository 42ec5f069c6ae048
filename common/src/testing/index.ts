// The helpers a test file uses: session cookies, ids, `eventually`, event probes, the per-file
// database, bus and Redis settings. They start and install nothing: the test servers, the tool
// installer and the jest global setup live in @ticketing/devinfra (infra/dev).
export * from './probes';
export * from './service';
export * from './test-env';
export * from './jetstream-inspect';
