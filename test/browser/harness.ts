import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureChromium, type Stack } from '@ticketing/devinfra';
import { startE2eStack } from '../e2e/harness';

/**
 * Browser tests: Debian's chromium (installed with apt when missing, infra/dev/chromium.ts) driven by
 * playwright-core against the whole stack with the web client behind the gateway, as a person uses it
 * after `npm start`. Elements are found by their accessible names (roles and labels), the names
 * issue 15 lists; every page must finish without a JavaScript error or a console error.
 */

/** A first `next build` (about 30 s alone, more beside other test files) on top of the stack's start. */
export const BROWSER_STACK_TIMEOUT_MS = 300_000;
/** How long one expected change on a page may take to show (events travel between services). */
export const UI_TIMEOUT_MS = 15_000;

/** The README's screenshots. */
export const IMAGES_DIR = path.resolve(__dirname, '../../docs/images');

export interface BrowserStack {
  stack: Stack;
  browser: Browser;
  stop(): Promise<void>;
}

export async function startBrowserStack(env: Record<string, string> = {}): Promise<BrowserStack> {
  const log = (line: string): void => {
    process.stderr.write(`[browser] ${line}\n`);
  };
  // Both at once: the apt install (first run only) and the client build are the slow parts.
  const [executablePath, stack] = await Promise.all([ensureChromium(log), startE2eStack(env, { client: true })]);
  if (stack.clientBuildMs > 0) log(`next build took ${(stack.clientBuildMs / 1000).toFixed(1)} s`);
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath,
      headless: true,
      // Root in a container: chromium's sandbox needs user namespaces it does not get there.
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
  } catch (error) {
    await stack.stop();
    throw error;
  }
  return {
    stack,
    browser,
    stop: async () => {
      await browser.close();
      await stack.stop();
    },
  };
}

/** A person: one browser context (its own cookie jar), one page, every page error recorded. */
export class Person {
  readonly email = `person-${randomBytes(5).toString('hex')}@example.test`;
  readonly password = 'correct-horse-9';
  readonly errors: string[] = [];

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    readonly baseUrl: string,
  ) {
    page.on('pageerror', (error) => this.errors.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      // The browser logs every 4xx answer to fetch ("Failed to load resource"): those are the API's
      // refusals the page shows the person, not page errors.
      if (message.type() !== 'error' || /status of 4\d\d/.test(message.text())) return;
      this.errors.push(`console.error: ${message.text()} (${message.location().url})`);
    });
  }

  static async open(env: BrowserStack): Promise<Person> {
    const context = await env.browser.newContext({ baseURL: env.stack.baseUrl, viewport: { width: 900, height: 420 } });
    context.setDefaultTimeout(UI_TIMEOUT_MS);
    const page = await context.newPage();
    return new Person(context, page, env.stack.baseUrl);
  }

  async goto(pathname: string): Promise<void> {
    const res = await this.page.goto(pathname);
    if (res === null || res.status() >= 500) {
      throw new Error(`GET ${pathname} answered ${String(res?.status())}: ${String(await res?.text())}`);
    }
  }

  /** Signs up through the form: the home page's header link, then the Sign up page. */
  async signUp(): Promise<void> {
    await this.goto('/');
    await this.page.getByRole('link', { name: 'Sign up' }).click();
    await this.page.getByLabel('Email').fill(this.email);
    await this.page.getByLabel('Password').fill(this.password);
    await this.page.getByRole('button', { name: 'Sign up' }).click();
    await this.page.getByText(this.email).waitFor();
  }

  async signIn(email: string, password: string): Promise<void> {
    await this.goto('/');
    await this.page.getByRole('link', { name: 'Sign in' }).click();
    await this.page.getByLabel('Email').fill(email);
    await this.page.getByLabel('Password').fill(password);
    await this.page.getByRole('button', { name: 'Sign in' }).click();
    await this.page.getByText(email).waitFor();
  }

  /** Lists a ticket through the Sell page; resolves with the ticket page's URL path. */
  async sell(title: string, price: string): Promise<string> {
    await this.page.getByRole('link', { name: 'Sell a ticket' }).click();
    // The page this starts from may have a Title field too (a seller's Edit form): wait for the new one.
    await this.page.waitForURL('**/tickets/new');
    await this.page.getByRole('heading', { name: 'Sell a ticket' }).waitFor();
    await this.page.getByLabel('Title').fill(title);
    await this.page.getByLabel('Price').fill(price);
    await this.page.getByRole('button', { name: 'Sell ticket' }).click();
    await this.page.waitForURL(/\/tickets\/[0-9a-f]{24}$/);
    await this.page.getByRole('heading', { name: title }).waitFor();
    return new URL(this.page.url()).pathname;
  }

  /**
   * Photographs the page. Into docs/images (the README's) when UPDATE_SCREENSHOTS=1 or the image is
   * missing; otherwise into a temporary folder, so that a test run does not leave the checkout
   * modified (the bytes of a PNG change with every run: a new email, a new title, a new countdown).
   */
  async screenshot(name: string): Promise<string> {
    const readme = path.join(IMAGES_DIR, name);
    const update = process.env['UPDATE_SCREENSHOTS'] === '1' || !existsSync(readme);
    const dir = update ? IMAGES_DIR : path.join(os.tmpdir(), 'ticketing-screenshots');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, name);
    await this.page.screenshot({ path: file });
    return file;
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}

/** Reloads the page until `check` passes (a change another service makes after an event), with a deadline. */
export async function untilAfterReload(page: Page, check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + UI_TIMEOUT_MS;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${UI_TIMEOUT_MS} ms of reloads`);
    await page.waitForTimeout(250);
    await page.reload();
  }
}
