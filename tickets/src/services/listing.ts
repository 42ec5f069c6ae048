import type { Bus, ListenerOptions, Logger } from '@ticketing/common';
import { ListingTicketCreatedListener, ListingTicketUpdatedListener } from '../events/listeners/listing-listeners';
import {
  TICKET_VIEW_PROJECTION,
  Ticket,
  ticketJson,
  type TicketDoc,
  type TicketJson,
  type TicketView,
} from '../models/ticket';
import { onTicketStored } from './ticket-lifecycle';

/** What the listing needs to know of a ticket: its id, version and whether it is for sale. */
export interface ListingNews {
  id: string;
  version: number;
  forSale: boolean;
}

export function newsOf(ticket: Pick<TicketDoc, '_id' | 'version' | 'orderId' | 'sold'>): ListingNews {
  return {
    id: String(ticket._id),
    version: ticket.version,
    forSale: ticket.orderId === undefined && ticket.sold !== true,
  };
}

/**
 * The order of the tickets for sale, newest first, kept in memory by every replica of this service
 * so that a page of the listing costs the same whatever the number of tickets ever listed.
 *
 * Why not a query: where filters are not indexed (ServerProfile.indexedFilters in common: the test
 * and dev server pushes down only a bare `_id` equality), `{ orderId: { $exists: false } }` sorted
 * by `_id` scans the whole collection on every request (about 1 s over 10,000 tickets). Here the listing holds only ids and versions; a page is then
 * read by bare `_id` lookups, the one read every server answers from its primary key, and each
 * ticket is checked again on the stored copy, so the page is never staler than a read.
 *
 * It is fed by every change: this replica's own saves (ticket-lifecycle tells it after each commit),
 * the other replicas' through their ticket events on the bus, and a scan of the collection at start
 * and after every reconnection to the bus (events missed while away). News is applied only when
 * its version is newer than what is known, so the three feeds can interleave in any order.
 */
export class TicketListing {
  /** Ids of the tickets believed for sale, ascending (ObjectIds sort by creation time). */
  private readonly ids: string[] = [];
  /** The latest version known of every ticket, for sale or not. */
  private readonly versions = new Map<string, number>();
  private scanned = false;

  constructor(private readonly log: Logger) {}

  /** True once the first scan is done: until then the listing would be incomplete. */
  get isReady(): boolean {
    return this.scanned;
  }

  get size(): number {
    return this.ids.length;
  }

  /** Applies a ticket's state when it is newer than what is known; says whether it was. */
  apply(news: ListingNews): boolean {
    const known = this.versions.get(news.id);
    if (known !== undefined && known >= news.version) return false;
    this.versions.set(news.id, news.version);
    const at = this.search(news.id);
    const listed = at < this.ids.length && this.ids[at] === news.id;
    if (news.forSale && !listed) this.ids.splice(at, 0, news.id);
    else if (!news.forSale && listed) this.ids.splice(at, 1);
    return true;
  }

  /**
   * Reads every ticket's id, version and state once (a collection scan: the one read whose cost
   * grows with the collection, paid at start and after a reconnection, not per request).
   */
  async rebuild(): Promise<void> {
    const started = Date.now();
    let count = 0;
    const cursor = Ticket.find({}, { _id: 1, version: 1, orderId: 1, sold: 1 }).lean().cursor();
    for await (const row of cursor) {
      this.apply(newsOf(row));
      count += 1;
    }
    this.scanned = true;
    this.log.info({ tickets: count, forSale: this.ids.length, ms: Date.now() - started }, 'ticket listing rebuilt');
  }

  /**
   * Up to `limit` tickets for sale older than `before` (an id), newest first, each read by its
   * `_id` and checked on the stored copy; `more` says whether another one follows. A ticket found
   * held or sold (news this replica has not heard yet) is dropped from the listing and skipped.
   * The reads are lean and fetch only the fields the API shows (no known orders, no outbox), as
   * nothing here is saved back.
   */
  async page(limit: number, before?: string): Promise<{ tickets: TicketJson[]; more: boolean }> {
    const found: TicketJson[] = [];
    // Index of the next candidate, walking down from the newest below the cursor.
    let next = (before === undefined ? this.ids.length : this.search(before)) - 1;
    // One ticket more than the page tells whether another page exists.
    while (found.length < limit + 1 && next >= 0) {
      const wanted = limit + 1 - found.length;
      const batch: string[] = [];
      for (; next >= 0 && batch.length < wanted; next -= 1) batch.push(this.ids[next] as string);
      const docs = await Promise.all(
        batch.map((id) => Ticket.findById(id, TICKET_VIEW_PROJECTION).lean<TicketView>().exec()),
      );
      docs.forEach((doc, i) => {
        if (doc === null) {
          this.forget(batch[i] as string);
          return;
        }
        const news = newsOf(doc);
        if (news.forSale) {
          found.push(ticketJson(doc));
          return;
        }
        // The stored copy is the truth, whatever version this replica knew.
        this.forget(news.id);
        this.versions.set(news.id, Math.max(news.version, this.versions.get(news.id) ?? 0));
      });
    }
    return { tickets: found.slice(0, limit), more: found.length > limit };
  }

  /** A ticket that no longer exists (deleted by hand, or a dropped database). */
  private forget(id: string): void {
    const at = this.search(id);
    if (this.ids[at] === id) this.ids.splice(at, 1);
  }

  /** The index of the first id not below `id` (binary search). */
  private search(id: string): number {
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ids[mid] as string) < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * Starts this replica's listing: hears its own saves and the other replicas' events first, then
 * scans the collection, so nothing stored meanwhile is missed; scans again after each reconnection
 * to the bus, since the plain subscription misses what is published while it is away.
 */
export async function startTicketListing(
  bus: Bus,
  logger: Logger,
  opts: ListenerOptions = {},
): Promise<{ listing: TicketListing; stop: () => void }> {
  const log = logger.child({ component: 'listing' });
  const listing = new TicketListing(log);
  const unobserve = onTicketStored((ticket) => listing.apply(newsOf(ticket)));
  new ListingTicketCreatedListener(bus, logger, listing, opts).listen();
  new ListingTicketUpdatedListener(bus, logger, listing, opts).listen();
  const onReconnect = (): void => {
    listing.rebuild().catch((err: unknown) => log.warn({ err }, 'listing scan after a reconnection failed'));
  };
  await listing.rebuild();
  bus.on('connected', onReconnect);
  return {
    listing,
    stop: () => {
      unobserve();
      bus.off('connected', onReconnect);
    },
  };
}
