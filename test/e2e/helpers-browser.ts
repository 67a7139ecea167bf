/**
 * Debian's chromium driven by playwright-core, and the few page actions every scenario needs.
 * Selectors are ids and data-testid attributes of the templates and src/client, never text or
 * CSS classes, so restyling does not break the tests.
 */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";

export const ARTIFACTS = resolve(import.meta.dirname, "../../test-results");
export const SCREENSHOTS = resolve(import.meta.dirname, "../../docs/screenshots");
export const PASSWORD = "correct horse battery staple";
/** Every wait of a page action; the tap timeout bounds the whole file. */
const ACTION_TIMEOUT_MS = 15_000;

export function launchBrowser(): Promise<Browser> {
  // launch() gives every browser a fresh temporary profile (user-data dir) and deletes it on close.
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    timeout: 30_000,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

export interface OpenOptions {
  viewport?: { width: number; height: number };
  colorScheme?: "light" | "dark";
  javaScriptEnabled?: boolean;
}

/** A new browser context (its own cookies and storage: a separate user agent) with one page. */
export async function openPage(browser: Browser, options: OpenOptions = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1100, height: 720 },
    colorScheme: options.colorScheme ?? "light",
    javaScriptEnabled: options.javaScriptEnabled ?? true,
  });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  const page = await context.newPage();
  watchPage(page);
  return { context, page };
}

/** Page errors and alerts are collected so a test can assert there were none. */
export function watchPage(page: Page): void {
  const errors: string[] = [];
  const dialogs: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  pageProblems.set(page, { errors, dialogs });
}

const pageProblems = new WeakMap<Page, { errors: string[]; dialogs: string[] }>();

export function problemsOf(page: Page): { errors: string[]; dialogs: string[] } {
  return pageProblems.get(page) ?? { errors: [], dialogs: [] };
}

export async function register(page: Page, base: string, username: string, password = PASSWORD): Promise<void> {
  await page.goto(`${base}/register`);
  await page.fill("#username", username);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(`${base}/`), page.click("#submit")]);
}

export async function login(page: Page, base: string, username: string, password = PASSWORD): Promise<void> {
  await page.goto(`${base}/login`);
  await page.fill("#username", username);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(`${base}/`), page.click("#submit")]);
}

export async function waitConnected(page: Page, timeout = ACTION_TIMEOUT_MS): Promise<void> {
  await page.waitForSelector('#connection[data-state="connected"]', { state: "attached", timeout });
  // The instance is written (and its stale mark removed) by the welcome that follows the connect.
  await page.waitForFunction(
    () => {
      const instance = document.getElementById("socket-instance");
      return instance !== null && instance.textContent !== "…" && instance.dataset.stale === undefined;
    },
    null,
    { timeout },
  );
}

/** "<host>/<pid>" of the worker serving this page's socket. */
export async function socketInstance(page: Page): Promise<string> {
  return (await page.textContent("#socket-instance"))?.trim() ?? "";
}

export function workerPid(instance: string): number {
  const pid = Number(instance.split("/").pop());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no pid in instance "${instance}"`);
  return pid;
}

export async function openConversation(page: Page, conversation: string): Promise<void> {
  await page.click(`[data-testid="conversation"][data-conversation="${conversation.toLowerCase()}"]`);
  await page.waitForFunction(
    (name) => document.getElementById("conversation-title")?.textContent?.toLowerCase() === name,
    conversation.toLowerCase(),
  );
}

/** Types into the composer and presses Enter, as a user would. */
export async function send(page: Page, text: string): Promise<void> {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}

/** The messages of the open conversation whose text is exactly `text`. */
export function messages(page: Page, text: string): Locator {
  return page.locator('[data-testid="message"]').filter({
    has: page.locator('[data-testid="message-text"]', { hasText: new RegExp(`^${escapeRegExp(text)}$`) }),
  });
}

/** Waits until the message is shown as stored (acked or received), then returns its element. */
export async function waitSent(page: Page, text: string): Promise<Locator> {
  const locator = messages(page, text).and(page.locator('[data-state="sent"]'));
  await locator.first().waitFor({ state: "attached" });
  return locator;
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Records every value the banner's data-state takes from now on, for assertions on the sequence. */
export async function recordBanner(page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate(() => {
    const banner = document.getElementById("connection");
    const states: string[] = [banner?.dataset.state ?? ""];
    (window as unknown as { __bannerStates: string[] }).__bannerStates = states;
    if (!banner) return;
    new MutationObserver(() => {
      const state = banner.dataset.state ?? "";
      if (states.at(-1) !== state) states.push(state);
    }).observe(banner, { attributes: true, attributeFilter: ["data-state"] });
  });
  return () => page.evaluate(() => (window as unknown as { __bannerStates: string[] }).__bannerStates);
}

export async function screenshot(page: Page, name: string, alsoDocs = false): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: resolve(ARTIFACTS, `${name}.png`) });
  if (alsoDocs) {
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: resolve(SCREENSHOTS, `${name}.png`) });
  }
}

/** Polls `check` until it returns true or the time is up (for conditions outside the page). */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs = ACTION_TIMEOUT_MS,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}
