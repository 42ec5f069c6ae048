import { randomBytes } from 'node:crypto';
import https from 'node:https';

/**
 * The purchase flow as a browser drives it, over HTTPS through the Ingress stand-in (so the production
 * images' Secure session cookie is set and sent back as it would be in a cluster): sign up a seller and
 * a buyer, sell a ticket, order it, pay, and see the order complete and the ticket sold.
 */

export interface IngressTarget {
  /** Address the ingress container listens on (its IP on the podman network). */
  address: string;
  host: string;
  /** PEM of the self-signed certificate the ingress serves. */
  ca: string;
}

interface Answer<T> {
  status: number;
  body: T;
}

export class HttpsClient {
  private cookies = new Map<string, string>();
  readonly email = `buyer-${randomBytes(5).toString('hex')}@example.test`;
  /** Cookie attributes of the last session cookie the server set (to check Secure/HttpOnly). */
  sessionAttributes: string[] = [];

  constructor(private readonly target: IngressTarget) {}

  /** `accept`: the API's JSON by default; a page of the web client asks for text/html. */
  request<T>(method: string, path: string, body?: unknown, accept = 'application/json'): Promise<Answer<T>> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { host: this.target.host, accept };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (this.cookies.size > 0) headers['cookie'] = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: this.target.address,
          port: 443,
          method,
          path,
          headers,
          ca: this.target.ca,
          servername: this.target.host,
          timeout: 15_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            for (const header of res.headers['set-cookie'] ?? []) {
              const [pair = '', ...attributes] = header.split(';').map((s) => s.trim());
              const eq = pair.indexOf('=');
              if (eq <= 0) continue;
              const name = pair.slice(0, eq);
              if (name === 'session') this.sessionAttributes = attributes;
              const value = pair.slice(eq + 1);
              if (value === '') this.cookies.delete(name);
              else this.cookies.set(name, value);
            }
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text === '' ? undefined : JSON.parse(text);
            } catch {
              // Not JSON: the caller's check shows the text.
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 15 s`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

async function until<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not within ${timeoutMs} ms${last === undefined ? '' : ` (${last instanceof Error ? last.message : JSON.stringify(last)})`}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function expectStatus(what: string, answer: Answer<unknown>, status: number): void {
  if (answer.status !== status) {
    throw new Error(
      `${what}: answered ${answer.status}, expected ${status}: ${JSON.stringify(answer.body).slice(0, 300)}`,
    );
  }
}

interface Ticket {
  id: string;
  orderId?: string;
  sold?: boolean;
}
interface Order {
  id: string;
  status: string;
}

export interface FlowStep {
  name: string;
  detail: string;
}

/** Runs the flow; each completed step is reported; throws on the first that fails. */
export async function purchaseFlow(
  target: IngressTarget,
  onStep: (step: FlowStep) => void,
): Promise<{ orderId: string; buyer: HttpsClient; ticketTitle: string }> {
  const seller = new HttpsClient(target);
  const buyer = new HttpsClient(target);
  for (const user of [seller, buyer]) {
    const signup = await user.request('POST', '/api/users/signup', { email: user.email, password: 'correct-horse-9' });
    expectStatus('signup', signup, 201);
  }
  const me = await buyer.request<{ currentUser: { email: string } | null }>('GET', '/api/users/currentuser');
  expectStatus('currentuser', me, 200);
  if (me.body.currentUser?.email !== buyer.email) throw new Error(`currentuser: ${JSON.stringify(me.body)}`);
  onStep({
    name: 'sign up and session (auth, Secure cookie over the ingress)',
    detail: buyer.sessionAttributes.join('; '),
  });

  const created = await seller.request<Ticket>('POST', '/api/tickets', { title: 'Deploy test concert', price: 42.5 });
  expectStatus('sell a ticket', created, 201);
  const ticket = created.body;
  onStep({ name: 'sell a ticket (tickets)', detail: ticket.id });

  const order = await until('orders learns the ticket (ticket:created over NATS)', 30_000, async () => {
    const res = await buyer.request<Order>('POST', '/api/orders', { ticketId: ticket.id });
    if (res.status === 404) return undefined;
    expectStatus('order the ticket', res, 201);
    return res.body;
  });
  onStep({ name: 'order the ticket (orders heard ticket:created)', detail: order.id });

  await until('tickets marks the ticket reserved (order:created)', 30_000, async () => {
    const res = await seller.request<Ticket>('GET', `/api/tickets/${ticket.id}`);
    return res.body.orderId === order.id ? true : undefined;
  });
  onStep({ name: 'ticket reserved (tickets heard order:created)', detail: ticket.id });

  const payment = await until('payments learns the order (order:created)', 30_000, async () => {
    const res = await buyer.request<{ id: string }>('POST', '/api/payments', { orderId: order.id, token: 'tok_visa' });
    if (res.status === 404) return undefined;
    expectStatus('pay', res, 201);
    return res.body;
  });
  onStep({ name: 'pay (payments charged stripe-mock)', detail: payment.id });

  await until('the order completes (payment:created)', 30_000, async () => {
    const res = await buyer.request<Order>('GET', `/api/orders/${order.id}`);
    return res.body.status === 'complete' ? true : undefined;
  });
  await until('the ticket is sold (order:completed)', 30_000, async () => {
    const res = await seller.request<Ticket>('GET', `/api/tickets/${ticket.id}`);
    return res.body.sold === true ? true : undefined;
  });
  onStep({ name: 'order complete, ticket sold', detail: order.id });
  return { orderId: order.id, buyer, ticketTitle: 'Deploy test concert' };
}
