import type { Stack } from '@ticketing/devinfra';
import { STACK_START_TIMEOUT_MS, errorCode, startE2eStack } from './harness';

/**
 * The client address the services see is the one the gateway (the ingress in a cluster) appended to
 * X-Forwarded-For, never what the client wrote there itself: the services trust exactly one proxy
 * hop (TRUST_PROXY_HOPS=1). Before that, they trusted every entry and took the leftmost one, so a
 * client that sent a new X-Forwarded-For with each attempt got a fresh rate-limit bucket each time.
 */

const LIMIT = 5;
let stack: Stack;

beforeAll(async () => {
  stack = await startE2eStack({ AUTH_RATE_LIMIT_PER_MINUTE: String(LIMIT) }, { services: ['auth'] });
}, STACK_START_TIMEOUT_MS);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

async function signinFrom(spoofed: string): Promise<{ status: number; code: string | undefined }> {
  const res = await fetch(`${stack.baseUrl}/api/users/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': spoofed },
    body: JSON.stringify({ email: 'nobody@example.test', password: 'wrong-password' }),
  });
  const body: unknown = await res.json();
  return { status: res.status, code: errorCode({ status: res.status, body }) };
}

describe('POST /api/users/signin through the gateway', () => {
  it('answers 429 once the limit is used up, whatever X-Forwarded-For the client sends', async () => {
    const answers: Array<{ status: number; code: string | undefined }> = [];
    // A different made-up client address on every attempt, as a script would rotate them.
    for (let i = 0; i < LIMIT + 3; i += 1) answers.push(await signinFrom(`203.0.113.${i + 1}, 198.51.100.${i + 7}`));

    expect(answers.slice(0, LIMIT).map((a) => a.code)).toEqual(Array(LIMIT).fill('INVALID_CREDENTIALS'));
    expect(answers.slice(LIMIT)).toEqual(Array(3).fill({ status: 429, code: 'TOO_MANY_REQUESTS' }));
  });
});
