import {
  apiJson,
  insertGrouped,
  isDuplicateKeyError,
  toCents,
  updateIfVersion,
  versionPlugin,
  type TicketCreatedEvent,
  type TicketUpdatedEvent,
  type VersionedStatics,
} from '@ticketing/common';
import mongoose, { Schema, type HydratedDocument, type Model, type Types } from 'mongoose';

/**
 * The orders service's replica of a ticket, fed only by ticket:created / ticket:updated. Its `_id`
 * is the tickets service's id and its `version` is the owner's version, copied as given: the replica
 * never makes up versions of its own (the version plugin runs in replica mode, so even a local save
 * leaves `version` alone).
 */
export interface TicketAttrs {
  _id: Types.ObjectId;
  title: string;
  /** Integer cents: 19.99 is stored as 1999. */
  priceCents: number;
  /** The seller. */
  userId: string;
  /** The order holding the ticket, as the tickets service last reported it. Informational only: the
   *  orders service decides reservations with its own unique ticketLock (see models/order.ts). */
  orderId?: string;
  version: number;
}

export type TicketDoc = HydratedDocument<TicketAttrs>;
export type TicketModel = Model<TicketAttrs> & VersionedStatics<TicketDoc>;

const ticketSchema = new Schema<TicketAttrs, TicketModel>(
  {
    title: { type: String, required: true },
    priceCents: { type: Number, required: true, min: 1 },
    userId: { type: String, required: true },
    orderId: { type: String },
  },
  {
    versionKey: false,
    toJSON: {
      transform(_doc, ret: Record<string, unknown>) {
        return shown(ret);
      },
    },
  },
);
ticketSchema.plugin(versionPlugin, { mode: 'replica' });

/** The API's view of a replica ticket (modified in place): `{ id, title, price, userId, version }`. */
function shown(ret: Record<string, unknown>): Record<string, unknown> {
  return apiJson(ret, { cents: ['priceCents', 'price'], hide: ['orderId'] });
}

/** The API's view of a ticket read with lean(), as its document's toJSON shows it. */
export function ticketJson(ticket: TicketAttrs): Record<string, unknown> {
  return shown({ ...ticket });
}

export const Ticket = mongoose.model<TicketAttrs, TicketModel>('Ticket', ticketSchema);

/** What applying an owner's event to the replica did. */
export type ReplicaOutcome =
  /** Stored: the replica is now at the event's version. */
  | 'applied'
  /** The replica already is at this version or past it (a redelivery or an older event): nothing to do. */
  | 'stale'
  /** The replica has not seen version - 1 yet (or not the ticket at all): the event must wait. */
  | 'future';

export async function applyTicketCreated(data: TicketCreatedEvent['data']): Promise<ReplicaOutcome> {
  try {
    // Events of one turn share one insert (group commit): a burst of ticket:created is many
    // statements less for the database.
    await insertGrouped(
      new Ticket({
        _id: data.id,
        title: data.title,
        priceCents: toCents(data.price),
        userId: data.userId,
        version: data.version,
      }),
    );
    return 'applied';
  } catch (err) {
    // The owner's id is our _id, so a second ticket:created for it is a redelivery, not an error.
    if (isDuplicateKeyError(err)) return 'stale';
    throw err;
  }
}

/** The replica's version of a ticket, undefined when it does not have the ticket yet. */
export async function ticketReplicaVersion(id: string): Promise<number | undefined> {
  const current = await Ticket.findById(id).select({ version: 1 }).lean<{ version: number }>();
  return current?.version;
}

/**
 * Applies version N only on top of N-1, in one conditional update: the condition on `version: N-1`
 * is what keeps two deliveries (or two pods) from applying events out of order or twice (see
 * updateIfVersion in common for how it is guarded on each server). `versionJustRead`: the caller
 * has just read the replica at N-1 (see UpdateIfVersionOptions).
 */
export async function applyTicketUpdated(
  data: TicketUpdatedEvent['data'],
  versionJustRead = false,
): Promise<ReplicaOutcome> {
  const update: mongoose.UpdateQuery<TicketAttrs> = {
    $set: {
      title: data.title,
      priceCents: toCents(data.price),
      userId: data.userId,
      version: data.version,
      ...(data.orderId === undefined ? {} : { orderId: data.orderId }),
    },
    // Unset, not null: an absent orderId means the ticket is free.
    ...(data.orderId === undefined ? { $unset: { orderId: 1 } } : {}),
  };
  if (await updateIfVersion(Ticket, data.id, data.version - 1, update, { versionJustRead })) return 'applied';
  const version = await ticketReplicaVersion(data.id);
  // Only "already at N or past it" is stale. The replica may have reached N-1 between the update and
  // this read: that is not stale (acking it would lose the event) but worth another try.
  return version !== undefined && version >= data.version ? 'stale' : 'future';
}
