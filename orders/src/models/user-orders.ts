import mongoose, { Schema, type Model, type Types } from 'mongoose';

/**
 * The ids of one user's orders, in one document addressed by the user's id: what GET /api/orders
 * reads instead of querying the orders by `userId` (see services/order-index.ts). It only grows: an
 * order is never removed from its user's list, whatever its status (the status is read from the
 * order itself).
 *
 * Size: an id takes about 20 bytes in the array, so MongoDB's 16 MB document limit is some 800,000
 * orders of one user; a page reads the whole list, about 20 kB per 1,000 orders of that user.
 */
export interface UserOrdersAttrs {
  /** The user's id. */
  _id: string;
  /** Their orders' ids, in the order they were recorded (not necessarily by id: sort when reading). */
  orders: Types.ObjectId[];
}

const userOrdersSchema = new Schema<UserOrdersAttrs>(
  {
    _id: { type: String, required: true },
    orders: { type: [Schema.Types.ObjectId], default: [] },
  },
  { versionKey: false, collection: 'userorders' },
);

export const UserOrders: Model<UserOrdersAttrs> = mongoose.model<UserOrdersAttrs>('UserOrders', userOrdersSchema);
