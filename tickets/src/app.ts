import { createApp, type Logger, type OutboxRelay, type ReadinessChecks, type RevocationList } from '@ticketing/common';
import type { Express } from 'express';
import type { TicketsConfig } from './config';
import { listTicketsRouter } from './routes/list-tickets';
import { newTicketRouter } from './routes/new-ticket';
import { showTicketRouter } from './routes/show-ticket';
import { updateTicketRouter } from './routes/update-ticket';
import type { TicketListing } from './services/listing';

export interface TicketsAppDeps {
  config: Pick<TicketsConfig, 'JWT_KEY' | 'NODE_ENV'> & Partial<Pick<TicketsConfig, 'TRUST_PROXY_HOPS'>>;
  logger: Logger;
  readiness: ReadinessChecks;
  /** Stores changes with their events and publishes them (see OutboxRelay). */
  relay: OutboxRelay;
  /** The order of the tickets for sale, kept by this replica (see TicketListing). */
  listing: TicketListing;
  /** Signed-out sessions, refused (main passes its SessionRevocations). */
  revocations?: RevocationList;
}

export function buildApp({ config, logger, readiness, relay, listing, revocations }: TicketsAppDeps): Express {
  return createApp({
    logger,
    jwtKey: config.JWT_KEY,
    ...(revocations === undefined ? {} : { revocations }),
    secureCookies: config.NODE_ENV === 'production',
    trustProxyHops: config.TRUST_PROXY_HOPS,
    readiness,
    routers: [newTicketRouter(relay), listTicketsRouter(listing), showTicketRouter, updateTicketRouter(relay)],
  });
}
