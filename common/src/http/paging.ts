import { query, type ValidationChain } from 'express-validator';
import type { Request } from 'express';
import { BadRequestError } from '../errors';

/**
 * Paging shared by the list routes (GET /api/tickets, GET /api/orders): newest first, `?limit=`
 * (1..100, 20 by default) and `?cursor=` (the previous page's `nextCursor`, null on the last page).
 * Paging by id (`_id < cursor`) rather than by offset keeps pages stable while records are added
 * or change.
 */

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

const OBJECT_ID = /^[a-f0-9]{24}$/;

/** The cursor is opaque to clients: base64url of the last record's id on the page. */
export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!OBJECT_ID.test(id)) throw new BadRequestError('The cursor is not valid', 'INVALID_CURSOR', 'cursor');
  return id;
}

// Express 5 re-parses req.query on every read, so sanitizers cannot write back to it: the
// validators only check, and pageRequest() converts. A repeated parameter (an array) is refused.
const isPageSize = (value: unknown): boolean =>
  typeof value === 'string' && /^\d{1,3}$/.test(value) && Number(value) >= 1 && Number(value) <= MAX_PAGE_SIZE;

/** Validation of `limit` and `cursor`, to put before validateRequest. */
export function pageQuery(): ValidationChain[] {
  return [
    query('limit').optional().custom(isPageSize).withMessage(`limit must be an integer from 1 to ${MAX_PAGE_SIZE}`),
    query('cursor')
      .optional()
      .custom((value: unknown) => typeof value === 'string')
      .withMessage('cursor must be a single string'),
  ];
}

export interface PageRequest {
  limit: number;
  /** The id the page starts after (the cursor, decoded); undefined on the first page. */
  after: string | undefined;
  /** Add to the query's filter: `{ _id: { $lt: cursor } }` after the first page, nothing on it. */
  idFilter: { _id?: { $lt: string } };
}

/** The page asked for (behind pageQuery() and validateRequest); a cursor we did not make is a 400. */
export function pageRequest(req: Request): PageRequest {
  const { limit: rawLimit, cursor } = req.query as { limit?: string; cursor?: string };
  const after = cursor === undefined ? undefined : decodeCursor(cursor);
  return {
    limit: rawLimit === undefined ? DEFAULT_PAGE_SIZE : Number(rawLimit),
    after,
    idFilter: after === undefined ? {} : { _id: { $lt: after } },
  };
}

/**
 * The page out of `rows`, which the query fetched sorted by _id descending with limit + 1: the
 * extra row tells whether another page exists without a second query.
 */
export function pageOf<T extends { _id: unknown }>(
  rows: T[],
  limit: number,
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(String(last._id)) : null };
}
