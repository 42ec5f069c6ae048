import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

type HeaderValue = number | string | readonly string[];

/**
 * Helmet's security headers, worked out once at start-up and then copied onto every response.
 * helmet() is a chain of a dozen middlewares that rebuild the same header values on every request
 * (the Content-Security-Policy string among them): 0.2 to 0.5 ms of CPU per request in the tickets
 * service on the bench machine, as much as a quarter of what a POST costs there. With a fixed
 * policy (no per-request directive functions, no nonces) every response gets the same list, so
 * helmet stays the source of that list and runs once here, against a recording response.
 */
export function securityHeaders(options?: Parameters<typeof helmet>[0]): RequestHandler {
  const headers = new Map<string, HeaderValue>();
  const removed = new Set<string>();
  const recorder = {
    setHeader(name: string, value: HeaderValue) {
      headers.set(name, value);
      removed.delete(name.toLowerCase());
      return recorder;
    },
    removeHeader(name: string) {
      headers.delete(name);
      removed.add(name.toLowerCase());
    },
  };
  let called = false;
  let failure: unknown;
  // A fixed policy reads nothing from the request; a policy that did would fail here, at start-up.
  const request = {} as IncomingMessage;
  helmet(options)(request, recorder as unknown as ServerResponse, (err?: unknown) => {
    called = true;
    failure = err;
  });
  if (!called || failure !== undefined) {
    throw new Error('helmet did not produce a fixed header list', { cause: failure });
  }
  const set = [...headers];
  const remove = [...removed];
  return (_req, res, next) => {
    for (const [name, value] of set) res.setHeader(name, value);
    for (const name of remove) res.removeHeader(name);
    next();
  };
}
