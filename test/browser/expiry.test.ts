import { randomBytes } from 'node:crypto';
import {
  BROWSER_STACK_TIMEOUT_MS,
  Person,
  UI_TIMEOUT_MS,
  startBrowserStack,
  untilAfterReload,
  type BrowserStack,
} from './harness';

/**
 * An order not paid in time, in the browser: with a short window (EXPIRATION_WINDOW_SECONDS, as an
 * operator would set it) the order page counts down to "expired" and disables Pay; reloaded once the
 * expiration service has cancelled the order, it still says "expired", and so does My orders.
 */

const WINDOW_SECONDS = 10;

let env: BrowserStack;
const people: Person[] = [];

beforeAll(async () => {
  // One ticket per home page: the paging through the API's cursor is seen with two tickets.
  env = await startBrowserStack({ EXPIRATION_WINDOW_SECONDS: String(WINDOW_SECONDS), TICKETS_PAGE_SIZE: '1' });
}, BROWSER_STACK_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(people.map((p) => p.close()));
  await env?.stop();
}, 60_000);

it('pages the home page, and shows an unpaid order as expired with Pay disabled once its window has passed', async () => {
  const seller = await Person.open(env);
  const buyer = await Person.open(env);
  people.push(seller, buyer);
  await seller.signUp();
  const title = `Match ${randomBytes(3).toString('hex')}`;
  const ticketPath = await seller.sell(title, '12');
  const other = `Match ${randomBytes(3).toString('hex')}`;
  await seller.sell(other, '13');

  // The home page pages with the API's cursor: one ticket, then the other behind Next page.
  await seller.goto('/');
  const listed = async (): Promise<string[]> =>
    seller.page.getByRole('list', { name: 'Tickets' }).getByRole('link').allTextContents();
  const firstPage = await listed();
  expect(firstPage).toHaveLength(1);
  await seller.page.getByRole('link', { name: 'Next page' }).click();
  await seller.page.waitForURL(/\?cursor=/);
  await seller.page.getByRole('link', { name: 'First page' }).waitFor();
  const secondPage = await listed();
  expect([...firstPage, ...secondPage].sort()).toEqual([title, other].sort());

  await buyer.signUp();
  await buyer.goto(ticketPath);
  await buyer.page.getByRole('button', { name: 'Purchase' }).click();
  await buyer.page.waitForURL(/\/orders\/[0-9a-f]{24}$/);
  const pay = buyer.page.getByRole('button', { name: 'Pay' });
  await buyer.page.getByRole('timer').waitFor();
  expect(await buyer.page.getByRole('timer').textContent()).toMatch(/^expires in 0:(0\d|10)$/);
  expect(await pay.isEnabled()).toBe(true);

  // The countdown reaches the end: "expired", no timer, Pay disabled.
  await buyer.page.getByText('expired', { exact: true }).waitFor({ timeout: WINDOW_SECONDS * 1000 + UI_TIMEOUT_MS });
  expect(await buyer.page.getByRole('timer').count()).toBe(0);
  expect(await pay.isDisabled()).toBe(true);

  // The expiration service cancels the order: reloaded, the page still reads "expired", without Pay.
  await untilAfterReload(
    buyer.page,
    async () => (await buyer.page.getByRole('button', { name: 'Pay' }).count()) === 0,
    'the order cancelled by the expiration service',
  );
  await buyer.page.getByText('expired', { exact: true }).waitFor();
  await buyer.goto('/orders');
  const row = buyer.page.getByRole('listitem').filter({ has: buyer.page.getByRole('link', { name: title }) });
  expect(await row.textContent()).toContain('expired');

  // The ticket is for sale again (on the first or the second page).
  await untilAfterReload(
    buyer.page,
    async () => {
      await buyer.goto('/');
      if ((await buyer.page.getByRole('link', { name: title }).count()) === 1) return true;
      // Until the ticket is released, the other one is alone on the only page.
      if ((await buyer.page.getByRole('link', { name: 'Next page' }).count()) === 0) return false;
      await buyer.page.getByRole('link', { name: 'Next page' }).click();
      await buyer.page.waitForURL(/\?cursor=/);
      return (await buyer.page.getByRole('link', { name: title }).count()) === 1;
    },
    'the released ticket back on the home page',
  );
  expect([...seller.errors, ...buyer.errors]).toEqual([]);
}, 90_000);
