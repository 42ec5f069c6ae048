import { randomBytes } from 'node:crypto';
import { BROWSER_STACK_TIMEOUT_MS, Person, startBrowserStack, untilAfterReload, type BrowserStack } from './harness';

/**
 * The marketplace in a real browser, as issue 15 describes it: sign up, sell, sign out, sign up as a
 * buyer, open the ticket, purchase, watch the countdown, pay, see "complete" and the order in My
 * orders, and the ticket gone from the home page; the seller's Edit refused while the ticket is
 * reserved; the API's errors shown to the person. The home and order pages are photographed for the
 * README (docs/images/).
 */

let env: BrowserStack;
const people: Person[] = [];

beforeAll(async () => {
  env = await startBrowserStack();
}, BROWSER_STACK_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(people.map((p) => p.close()));
  await env?.stop();
}, 60_000);

async function person(): Promise<Person> {
  const p = await Person.open(env);
  people.push(p);
  return p;
}

const unique = (): string => randomBytes(3).toString('hex');

describe('the web client', () => {
  it('takes a ticket from sale to a paid order: sign up, sell, buy, pay, complete', async () => {
    const started = Date.now();
    const visitor = await person();
    const { page } = visitor;

    // Signed out: the header offers Sign up and Sign in.
    await visitor.goto('/');
    await page.getByRole('link', { name: 'Sign up' }).waitFor();
    await page.getByRole('link', { name: 'Sign in' }).waitFor();

    // The seller signs up and lists two tickets.
    await visitor.signUp();
    const seller = { email: visitor.email, password: visitor.password };
    await page.getByRole('link', { name: 'My orders' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    const title = `Concert ${unique()}`;
    const ticketPath = await visitor.sell(title, '25.5');
    await page.getByText('$25.50').waitFor();
    // The seller sees an Edit form, not Purchase.
    await page.getByRole('button', { name: 'Save' }).waitFor();
    expect(await page.getByRole('button', { name: 'Purchase' }).count()).toBe(0);
    await visitor.sell(`Theatre ${unique()}`, '42');

    // Signed out, then signed up again as a buyer in the same browser.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in' }).waitFor();
    expect(await page.getByText(seller.email).count()).toBe(0);
    const buyer = await person();
    await buyer.signUp();

    // The home page lists the ticket by its title, with its price.
    await buyer.goto('/');
    const link = buyer.page.getByRole('link', { name: title });
    await link.waitFor();
    expect(await buyer.page.getByRole('listitem').filter({ has: link }).textContent()).toContain('$25.50');
    await buyer.screenshot('home.png');

    await link.click();
    await buyer.page.waitForURL(`**${ticketPath}`);
    await buyer.page.getByRole('heading', { name: title }).waitFor();
    await buyer.page.getByRole('button', { name: 'Purchase' }).click();
    await buyer.page.waitForURL(/\/orders\/[0-9a-f]{24}$/);
    const orderPath = new URL(buyer.page.url()).pathname;

    // The countdown moves.
    const timer = buyer.page.getByRole('timer');
    const first = await timer.textContent();
    expect(first).toMatch(/^expires in (14|15):\d\d$/);
    let now = first;
    const deadline = Date.now() + 5_000;
    while (now === first && Date.now() < deadline) {
      await buyer.page.waitForTimeout(200);
      now = await timer.textContent();
    }
    expect(now).not.toBe(first);
    expect(now).toMatch(/^expires in \d+:\d\d$/);
    await buyer.screenshot('order.png');

    // The seller, signed in elsewhere, cannot edit the ticket while it is reserved.
    const sellerAgain = await person();
    await sellerAgain.signIn(seller.email, seller.password);
    await sellerAgain.goto(ticketPath);
    await sellerAgain.page.getByText('Reserved').waitFor();
    await sellerAgain.page.getByLabel('Price').fill('99');
    await sellerAgain.page.getByRole('button', { name: 'Save' }).click();
    // (Next's route announcer is an alert too: the form's own alert is the one meant.)
    const refusal = sellerAgain.page.getByRole('form', { name: 'Edit ticket' }).getByRole('alert');
    await refusal.waitFor();
    expect(await refusal.textContent()).toBe('The ticket is reserved by an order and cannot be edited');
    await sellerAgain.goto(ticketPath);
    expect(await sellerAgain.page.getByText('$25.50').count()).toBe(1);

    // Pay (tok_visa: no publishable key is configured), then "complete".
    await buyer.page.getByRole('button', { name: 'Pay' }).click();
    await buyer.page.getByText('complete', { exact: true }).waitFor();
    expect(await buyer.page.getByRole('button', { name: 'Pay' }).count()).toBe(0);

    // My orders shows it complete (orders learns of the payment from payment:created).
    await buyer.page.getByRole('link', { name: 'My orders' }).click();
    await buyer.page.waitForURL('**/orders');
    await untilAfterReload(
      buyer.page,
      async () => {
        const row = buyer.page.getByRole('listitem').filter({ has: buyer.page.getByRole('link', { name: title }) });
        return (await row.count()) === 1 && (await row.textContent())?.includes('complete') === true;
      },
      'the order complete in My orders',
    );
    expect(await buyer.page.getByRole('link', { name: title }).getAttribute('href')).toBe(orderPath);

    // Gone from the home page.
    await buyer.goto('/');
    await buyer.page.getByRole('heading', { name: 'Tickets for sale' }).waitFor();
    expect(await buyer.page.getByRole('link', { name: title }).count()).toBe(0);

    expect([...visitor.errors, ...buyer.errors, ...sellerAgain.errors]).toEqual([]);
    console.log(`browser purchase flow: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 120_000);

  it('shows the API errors beside their field: Email in use, a short password, a bad price', async () => {
    const first = await person();
    await first.signUp();
    const second = await person();
    const { page } = second;

    await second.goto('/auth/signup');
    await page.getByLabel('Email').fill(first.email);
    await page.getByLabel('Password').fill('correct-horse-9');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByText('Email in use').waitFor();
    expect(await page.getByLabel('Email').getAttribute('aria-invalid')).toBe('true');

    await page.getByLabel('Email').fill(second.email);
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Sign up' }).click();
    const passwordError = page.locator('#password-error');
    await passwordError.waitFor();
    expect(await passwordError.textContent()).toMatch(/password/i);
    expect(await page.getByLabel('Password').getAttribute('aria-invalid')).toBe('true');

    await page.getByLabel('Password').fill(second.password);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByText(second.email).waitFor();

    await page.getByRole('link', { name: 'Sell a ticket' }).click();
    await page.getByLabel('Title').fill(`Opera ${unique()}`);
    await page.getByLabel('Price').fill('-3');
    await page.getByRole('button', { name: 'Sell ticket' }).click();
    const priceError = page.locator('#price-error');
    await priceError.waitFor();
    expect(await priceError.textContent()).toMatch(/price/i);
    expect(page.url()).toMatch(/\/tickets\/new$/);

    // Wrong password on sign in: the API's message in an alert.
    const third = await person();
    await third.goto('/auth/signin');
    await third.page.getByLabel('Email').fill(first.email);
    await third.page.getByLabel('Password').fill('not-the-password');
    await third.page.getByRole('button', { name: 'Sign in' }).click();
    await third.page.getByRole('alert').filter({ hasText: 'Invalid credentials' }).waitFor();

    expect([...first.errors, ...second.errors, ...third.errors]).toEqual([]);
  }, 60_000);
});

// Last in the file: it stops auth for good.
describe('the web client without auth', () => {
  it('shows its own error page, with Try again, when the header cannot learn who is signed in', async () => {
    const auth = env.stack.services.find((s) => s.name === 'auth');
    if (auth?.pid === undefined) throw new Error('auth is not running');
    process.kill(auth.pid, 'SIGKILL');

    const { page } = await person();
    const res = await page.goto('/');
    expect(res?.status()).toBe(500);
    const alert = page.getByRole('alert');
    await alert.filter({ hasText: 'Ticketing is not available right now' }).waitFor();
    await page.getByRole('button', { name: 'Try again' }).waitFor();
    expect(await page.getByText('Application error').count()).toBe(0);
  }, 60_000);
});
