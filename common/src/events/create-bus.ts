import type { BusOptions, BusTransport, EventBus } from './bus';
import { JetStreamBus } from './jetstream-bus';
import { StanBus } from './stan-bus';

export interface CreateBusOptions extends BusOptions {
  /** 'stan' (NATS Streaming, the default, as the system was specified) or 'jetstream'. */
  transport?: BusTransport;
  /** JetStream only: replicas of each stream (3 on a three-node cluster); 1 by default. */
  streamReplicas?: number;
}

/** The bus for the configured transport (EVENT_BUS); nothing else in a service depends on which. */
export function createBus(opts: CreateBusOptions): EventBus {
  const { transport = 'stan', ...rest } = opts;
  return transport === 'jetstream' ? new JetStreamBus(rest) : new StanBus(rest);
}
