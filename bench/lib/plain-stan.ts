import type { Stan, SubscriptionOptions } from 'node-nats-streaming';

/**
 * The options our Listener subscribes with on NATS Streaming (durable, deliver all, manual ack, ack
 * wait 5 s, 64 in flight), for the bench's plain subscriptions: a baseline must differ from the bus
 * only in what the bus adds, not in how it subscribes.
 */
export function listenerLikeOptions(stan: Stan, durableName: string): SubscriptionOptions {
  return stan
    .subscriptionOptions()
    .setDeliverAllAvailable()
    .setManualAckMode(true)
    .setAckWait(5_000)
    .setMaxInFlight(64)
    .setDurableName(durableName);
}
