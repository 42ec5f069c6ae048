import { INFRA_GLOBAL, type TestInfra } from './jest-global-setup';

export default async function globalTeardown(): Promise<void> {
  const store = globalThis as Record<string, unknown>;
  const infra = store[INFRA_GLOBAL] as TestInfra | undefined;
  if (infra === undefined) return;
  delete store[INFRA_GLOBAL];
  await infra.stripeTestMode.stop();
  await Promise.all([
    infra.mongo.stop(),
    infra.nats.stop(),
    infra.jetstream.stop(),
    infra.redis.stop(),
    infra.stripe.stop(),
  ]);
}
