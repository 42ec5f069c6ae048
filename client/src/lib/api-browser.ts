import type { ApiError } from './types';

/**
 * The API as the browser calls it: same origin (`/api/...` on the gateway or the Ingress that served
 * the page), so the session cookie goes along and a Set-Cookie lands in the browser.
 */

export type SendResult<T> = { ok: true; status: number; body: T } | { ok: false; status: number; errors: ApiError[] };

export async function send<T>(method: string, path: string, body?: unknown): Promise<SendResult<T>> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      credentials: 'same-origin',
    });
  } catch {
    return { ok: false, status: 0, errors: [{ message: 'The server cannot be reached: check your connection' }] };
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (res.ok) return { ok: true, status: res.status, body: parsed as T };
  const errors = (parsed as { errors?: ApiError[] } | undefined)?.errors;
  return {
    ok: false,
    status: res.status,
    errors:
      Array.isArray(errors) && errors.length > 0
        ? errors
        : [{ message: `Something went wrong (HTTP ${res.status}): try again` }],
  };
}

/**
 * Sends until the answer is not a 404, for up to `timeoutMs`: right after a ticket is listed (or an
 * order placed) the service that learns of it through an event may not know it yet, and answers 404
 * for a moment. The person should not see that.
 */
export async function sendWhenKnown<T>(
  method: string,
  path: string,
  body: unknown,
  timeoutMs = 5_000,
): Promise<SendResult<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await send<T>(method, path, body);
    if (result.ok || result.status !== 404 || Date.now() > deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The errors of one field, and those tied to no field shown in the form's alert. */
export function splitErrors(
  errors: ApiError[],
  fields: readonly string[],
): {
  byField: Record<string, string[]>;
  general: string[];
} {
  const byField: Record<string, string[]> = {};
  const general: string[] = [];
  for (const error of errors) {
    if (error.field !== undefined && fields.includes(error.field)) (byField[error.field] ??= []).push(error.message);
    else general.push(error.message);
  }
  return { byField, general };
}
