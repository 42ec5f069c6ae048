import { apiJson } from '@ticketing/common';
import mongoose, { Schema, type HydratedDocument, type Model } from 'mongoose';

export interface UserAttrs {
  email: string;
  passwordHash: string;
}

export type UserDoc = HydratedDocument<UserAttrs>;

const userSchema = new Schema<UserAttrs>(
  {
    email: { type: String, required: true, lowercase: true, trim: true },
    passwordHash: { type: String, required: true },
  },
  {
    timestamps: true,
    versionKey: false,
    toJSON: {
      transform(_doc, ret: Record<string, unknown>) {
        return apiJson(ret, { hide: ['passwordHash', 'createdAt', 'updatedAt'] });
      },
    },
  },
);

// The unique index, not a find-before-insert, is what makes concurrent signups with one email safe.
userSchema.index({ email: 1 }, { unique: true });

export const User: Model<UserAttrs> = mongoose.model<UserAttrs>('User', userSchema);
