import {
  Subjects,
  fromCents,
  outboxPlugin,
  stageEvent,
  stripOutbox,
  versionPlugin,
  type TicketUpdatedEvent,
  type Versioned,
  type VersionedStatics,
  type WithOutbox,
} from '@ticketing/common';
import mongoose, { Schema, type HydratedDocument, type Model } from 'mongoose';

export const TITLE_MAX_LENGTH = 200;

/** What a seller provides. The price is stored in integer cents so that it stays exact. */
export interface TicketAttrs {
  title: string;
  priceCents: number;
  userId: string;
}

export interface TicketFields extends TicketAttrs, Versioned, WithOutbox {
  /** Set while an order holds the ticket; unset (never null) when it is free. */
  orderId?: string | undefined;
  /**
   * Orders whose order:cancelled arrived while they did not hold the ticket. The two subjects are
   * separate channels, so a cancellation can be handled before its order:created (a redelivery);
   * remembering it keeps that late order:created from reserving the ticket for a dead order.
   * Internal: never in the API or in events, and not a versioned change.
   */
  cancelledOrderIds: string[];
}

export type TicketDoc = HydratedDocument<TicketFields>;

export interface TicketModel extends Model<TicketFields>, VersionedStatics<TicketDoc> {}

/** The API's view of a ticket: `{ id, title, price, userId, version, orderId? }`. */
export interface TicketJson {
  id: string;
  title: string;
  price: number;
  userId: string;
  version: number;
  orderId?: string;
}

const ticketSchema = new Schema<TicketFields, TicketModel>(
  {
    title: { type: String, required: true, trim: true, maxlength: TITLE_MAX_LENGTH },
    priceCents: {
      type: Number,
      required: true,
      min: 1,
      validate: { validator: Number.isSafeInteger, message: 'priceCents must be an integer' },
    },
    userId: { type: String, required: true },
    orderId: { type: String },
    cancelledOrderIds: { type: [String], default: [] },
  },
  {
    versionKey: false,
    toJSON: {
      transform(_doc, ret: Record<string, unknown>): TicketJson {
        stripOutbox(ret);
        const json: TicketJson = {
          id: String(ret['_id']),
          title: ret['title'] as string,
          price: fromCents(ret['priceCents'] as number),
          userId: ret['userId'] as string,
          version: ret['version'] as number,
        };
        if (typeof ret['orderId'] === 'string') json.orderId = ret['orderId'];
        return json;
      },
    },
  },
);

ticketSchema.plugin(versionPlugin, { mode: 'owner' });
ticketSchema.plugin(outboxPlugin);

export const Ticket = mongoose.model<TicketFields, TicketModel>('Ticket', ticketSchema);

export function buildTicket(attrs: TicketAttrs): TicketDoc {
  return new Ticket(attrs);
}

/**
 * The payload describing the ticket as its next save will store it. The version plugin bumps
 * `version` inside that save (a new document is stored at 0), and staging the event is itself a
 * modification, so the event always carries the version the save writes.
 */
function eventData(ticket: TicketDoc): TicketUpdatedEvent['data'] {
  const data: TicketUpdatedEvent['data'] = {
    id: String(ticket._id),
    version: ticket.isNew ? ticket.version : ticket.version + 1,
    title: ticket.title,
    price: fromCents(ticket.priceCents),
    userId: ticket.userId,
  };
  if (ticket.orderId !== undefined) data.orderId = ticket.orderId;
  return data;
}

/** Queues ticket:created on a new ticket; `relay.commit(ticket)` stores both and publishes. */
export function stageTicketCreated(ticket: TicketDoc): void {
  const { id, version, title, price, userId } = eventData(ticket);
  stageEvent(ticket, Subjects.TicketCreated, { id, version, title, price, userId });
}

/** Queues ticket:updated (carrying the version the next save writes) on a changed ticket. */
export function stageTicketUpdated(ticket: TicketDoc): void {
  stageEvent(ticket, Subjects.TicketUpdated, eventData(ticket));
}
