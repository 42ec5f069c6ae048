// Setup file of the jest project "jetstream" (root jest.config.js): the test file, and every service
// process it starts (they inherit this environment), use NATS JetStream.
process.env['EVENT_BUS'] = 'jetstream';
