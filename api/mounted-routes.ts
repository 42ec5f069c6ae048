import type { Express } from 'express';
import type * as Common from '@ticketing/common';
import type * as Testing from '@ticketing/common/testing';
import type * as auth_app from '../auth/src/app';
import type * as auth_config from '../auth/src/config';
import type * as tickets_app from '../tickets/src/app';
import type * as tickets_config from '../tickets/src/config';
import type * as tickets_listing from '../tickets/src/services/listing';
import type * as orders_app from '../orders/src/app';
import type * as orders_config from '../orders/src/config';
import type * as payments_app from '../payments/src/app';
import type * as payments_config from '../payments/src/config';
import type * as payments_stripe from '../payments/src/stripe';

/**
 * The routes each service's Express app mounts, read from the app itself (its router stack) as
 * main.ts builds it, so a route added to a service shows up here without anyone listing it. The
 * apps are built without connecting to anything (building an app does no I/O). Each service's
 * modules are required when its app is built: two services define Mongoose models of the same name
 * (orders' and payments' Order), so a caller that builds several gives each its own module registry
 * (jest.isolateModules).
 */

export interface MountedRoute {
  service: string;
  method: string;
  /** Express form: /api/tickets/:id */
  path: string;
}

export const API_SERVICES = ['auth', 'tickets', 'orders', 'payments'] as const;
export type ApiService = (typeof API_SERVICES)[number];

/* eslint-disable @typescript-eslint/no-require-imports -- loaded on demand, see above */
export function buildServiceApp(service: ApiService): Express {
  const { StanBus, OutboxRelay, SessionRevocations } = require('@ticketing/common') as typeof Common;
  const { TEST_JWT_KEY, silentLogger } = require('@ticketing/common/testing') as typeof Testing;
  const env = {
    MONGO_URI: 'mongodb://127.0.0.1:1/unused',
    NATS_URL: 'nats://127.0.0.1:1',
    JWT_KEY: TEST_JWT_KEY,
    STRIPE_KEY: 'sk_test_unused',
  };
  const relay = (): Common.OutboxRelay => {
    const bus = new StanBus({ url: env.NATS_URL, clusterId: 'unused', clientId: 'routes', logger: silentLogger });
    return new OutboxRelay({ bus, models: [], logger: silentLogger });
  };
  switch (service) {
    case 'auth': {
      const { buildApp } = require('../auth/src/app') as typeof auth_app;
      const { loadAuthConfig } = require('../auth/src/config') as typeof auth_config;
      const bus = new StanBus({ url: env.NATS_URL, clusterId: 'unused', clientId: 'routes', logger: silentLogger });
      const revocations = new SessionRevocations({ bus, logger: silentLogger, lookbackSeconds: 60 });
      return buildApp(loadAuthConfig(env), silentLogger, {}, { relay: relay(), revocations });
    }
    case 'tickets': {
      const { buildApp } = require('../tickets/src/app') as typeof tickets_app;
      const { loadTicketsConfig } = require('../tickets/src/config') as typeof tickets_config;
      const { TicketListing } = require('../tickets/src/services/listing') as typeof tickets_listing;
      const listing = new TicketListing(silentLogger);
      return buildApp({ config: loadTicketsConfig(env), logger: silentLogger, readiness: {}, relay: relay(), listing });
    }
    case 'orders': {
      const { buildApp } = require('../orders/src/app') as typeof orders_app;
      const { loadOrdersConfig } = require('../orders/src/config') as typeof orders_config;
      return buildApp(loadOrdersConfig(env), silentLogger, {}, relay());
    }
    case 'payments': {
      const { buildApp } = require('../payments/src/app') as typeof payments_app;
      const { loadPaymentsConfig } = require('../payments/src/config') as typeof payments_config;
      const { createStripeClient } = require('../payments/src/stripe') as typeof payments_stripe;
      const config = loadPaymentsConfig(env);
      return buildApp(
        config,
        silentLogger,
        {},
        {
          stripe: createStripeClient(config),
          relay: relay(),
          claimLeaseMs: config.RECONCILE_PENDING_AFTER_MS,
        },
      );
    }
  }
}
/* eslint-enable @typescript-eslint/no-require-imports */

interface Layer {
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

function walk(stack: Layer[], service: string, out: MountedRoute[]): void {
  for (const layer of stack) {
    if (layer.route !== undefined) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const method of Object.keys(layer.route.methods).filter((m) => layer.route?.methods[m] === true)) {
        for (const path of paths) out.push({ service, method: method.toUpperCase(), path: String(path) });
      }
    } else if (layer.handle?.stack !== undefined) {
      // A router mounted with app.use(router): the services mount theirs at the root.
      walk(layer.handle.stack, service, out);
    }
  }
}

export function mountedRoutes(service: string, app: Express): MountedRoute[] {
  const out: MountedRoute[] = [];
  // Express 5 exposes the app's root router as app.router.
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, service, out);
  return out;
}

/** /api/tickets/:id → /api/tickets/{id} */
export function toOpenApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, '{$1}');
}
