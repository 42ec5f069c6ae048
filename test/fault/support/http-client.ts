import http from 'node:http';
import { performance } from 'node:perf_hooks';

/**
 * A small JSON client on node:http for the fault tests: it reports the status, the parsed body and
 * how long the answer took, and a failure carries the socket error's code (ECONNREFUSED when nothing
 * listens, ECONNRESET when a connection was cut), which is what the shutdown test classifies.
 */

export interface JsonResponse<T = unknown> {
  status: number;
  body: T;
  ms: number;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  cookie?: string[];
  /** The request fails with code 'TIMEOUT' when no answer came by then; 10 s by default. */
  timeoutMs?: number;
  agent?: http.Agent;
}

export class RequestFailed extends Error {
  constructor(
    message: string,
    /** ECONNREFUSED, ECONNRESET, TIMEOUT, ... */
    readonly code: string,
    /** True when part of an answer (its status line) had arrived before the failure. */
    readonly answered: boolean,
  ) {
    super(message);
    this.name = 'RequestFailed';
  }
}

export function requestJson<T = unknown>(url: string, opts: RequestOptions = {}): Promise<JsonResponse<T>> {
  const started = performance.now();
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(payload);
  }
  if (opts.cookie !== undefined) headers['cookie'] = opts.cookie.join('; ');
  return new Promise((resolve, reject) => {
    let answered = false;
    const fail = (err: NodeJS.ErrnoException): void => {
      reject(new RequestFailed(`${opts.method ?? 'GET'} ${url}: ${err.message}`, err.code ?? 'ERROR', answered));
    };
    const req = http.request(url, { method: opts.method ?? 'GET', headers, agent: opts.agent }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail);
      res.on('aborted', () => fail(Object.assign(new Error('the answer was cut off'), { code: 'ECONNRESET' })));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          // Not JSON: the caller's assertion shows the text.
        }
        resolve({ status: res.statusCode ?? 0, body: body as T, ms: performance.now() - started });
      });
    });
    req.setTimeout(opts.timeoutMs ?? 10_000, () => {
      req.destroy(Object.assign(new Error(`no answer within ${opts.timeoutMs ?? 10_000} ms`), { code: 'TIMEOUT' }));
    });
    req.on('error', fail);
    req.end(payload);
  });
}
