import type { Bus } from './bus';
import type { BusEvent } from './events';

/** A typed publisher: a TicketCreatedPublisher only accepts TicketCreatedEvent['data']. */
export abstract class Publisher<E extends BusEvent> {
  abstract readonly subject: E['subject'];

  constructor(protected readonly bus: Bus) {}

  /** Resolves with the server's id for the message once it is stored; rejects otherwise. */
  publish(data: E['data'], meta?: { id?: string; requestId?: string }): Promise<string> {
    return this.bus.publish(this.subject, data, meta);
  }
}
