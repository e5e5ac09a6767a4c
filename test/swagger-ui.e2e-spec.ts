import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrowserContext, chromium, Page } from 'playwright-core';
import { http } from './support/http-client';
import { HTTP_ADAPTERS, startTestApp, TestApp } from './support/test-app';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * A person's view of the API: Swagger UI in a real headless Chromium (Debian's package;
 * .ci/run installs it), storing and reading a value through "Try it out". On both platforms: each
 * serves the UI's static assets its own way (Fastify through @fastify/static).
 */
describe.each(HTTP_ADAPTERS)('Swagger UI in a real browser (%s)', (adapter) => {
  let server: TestApp;
  let browser: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (CI does)`);
    }
    server = await startTestApp({ HTTP_ADAPTER: adapter });
    profile = mkdtempSync(join(tmpdir(), 'kv-chromium-'));
    // A fresh profile per run; the machine has no internet, so nothing may phone home.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  async function tryOut(page: Page, operationId: string, key: string, body?: string) {
    const operation = page.locator(`#operations-Keys-${operationId}`);
    await operation.locator('.opblock-summary').click();
    await operation.getByRole('button', { name: 'Try it out' }).click();
    await operation.locator('input[placeholder="key"]').fill(key);
    if (body !== undefined) await operation.locator('textarea.body-param__text').fill(body);
    await operation.getByRole('button', { name: 'Execute' }).click();
    const live = operation.locator('.live-responses-table .response');
    await live.first().waitFor();
    return {
      status: (await live.locator('.response-col_status').first().innerText()).trim(),
      body: await live.locator('.response-col_description pre').first().innerText(),
    };
  }

  it('stores a value with PUT /key/{key} and reads it back with GET', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${server.url}/docs`);
    await page.locator('#operations-Keys-KeysController_put').waitFor();

    const put = await tryOut(page, 'KeysController_put', 'from/the/browser', '{"hello":"world"}');
    expect(put.status).toBe('200');
    expect(JSON.parse(put.body)).toEqual({
      success: true,
      key: 'from/the/browser',
      value: { hello: 'world' },
    });

    const get = await tryOut(page, 'KeysController_get', 'from/the/browser');
    expect(get.status).toBe('200');
    expect(JSON.parse(get.body)).toEqual({ key: 'from/the/browser', value: { hello: 'world' } });

    expect((await http(server.url, 'GET', '/key/from%2Fthe%2Fbrowser')).json).toEqual({
      key: 'from/the/browser',
      value: { hello: 'world' },
    });
    expect(errors).toEqual([]);
  }, 60_000);
});
