import { outboxPlugin, type OutboxEntry } from '@ticketing/common';
import mongoose, { Schema, type HydratedDocument, type Model, type Types } from 'mongoose';

/**
 * A signed-out session. `_id` is the session id (the token's `sid`), so signing out twice stores one
 * record; the record carries its session:revoked in its outbox, so the revocation and its event are
 * one write and the event is published even if the bus is away at signout. Records past `expiresAt`
 * are no longer needed by anyone; no TTL index drops them, because the test server has none (see
 * ServerProfile in common): a few dozen bytes per signout.
 */
export interface RevocationAttrs {
  _id: Types.ObjectId;
  userId: string;
  expiresAt: Date;
  outbox: OutboxEntry[];
}

export type RevocationDoc = HydratedDocument<RevocationAttrs>;

const revocationSchema = new Schema<RevocationAttrs>({
  userId: { type: String, required: true },
  expiresAt: { type: Date, required: true },
});
revocationSchema.plugin(outboxPlugin);

export const Revocation: Model<RevocationAttrs> = mongoose.model<RevocationAttrs>('Revocation', revocationSchema);

/** A new session id, put in the token at signin and signup. */
export function newSessionId(): string {
  return new mongoose.Types.ObjectId().toHexString();
}
