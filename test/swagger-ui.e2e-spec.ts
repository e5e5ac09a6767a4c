import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrowserContext, chromium, Page } from 'playwright-core';
import { chromiumExecutable } from './support/chromium-binary';
import { http } from './support/http-client';
import { HTTP_ADAPTERS, startTestApp, TestApp } from './support/test-app';

/** A name that is not localhost: the browser's view of a server in a container or on a LAN. */
const HOST_NAME = 'kvstore.test';

/**
 * A person's view of the API: Swagger UI in a real headless Chromium (the one the npm package
 * @sparticuz/chromium ships), storing and reading a value through "Try it out", on both platforms.
 *
 * The page is loaded through a host name other than localhost (Chromium maps it to 127.0.0.1),
 * over plain HTTP, as for a server in a container: there a CSP `upgrade-insecure-requests`
 * would send the browser to https for Swagger UI's scripts and leave the page blank. The server
 * runs with PROTECTED_MODE=false: protected mode would refuse that Host (DNS rebinding).
 */
describe('Swagger UI in a real browser', () => {
  let browser: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    profile = mkdtempSync(join(tmpdir(), 'kv-chromium-'));
    // A fresh profile per run; the machine has no internet, so nothing may phone home.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: await chromiumExecutable(),
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        `--host-resolver-rules=MAP ${HOST_NAME} 127.0.0.1`,
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
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

  describe.each(HTTP_ADAPTERS)('served by %s', (adapter) => {
    let server: TestApp;

    beforeAll(async () => {
      server = await startTestApp({ HTTP_ADAPTER: adapter, PROTECTED_MODE: 'false' });
    });

    afterAll(async () => {
      await server?.close();
    });

    it(`renders its operations at http://${HOST_NAME}:PORT/docs and stores and reads a value`, async () => {
      const page = await browser.newPage();
      const errors: string[] = [];
      const failedRequests: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      page.on('requestfailed', (request) => failedRequests.push(request.url()));
      const { port } = new URL(server.url);
      await page.goto(`http://${HOST_NAME}:${port}/docs`);
      await page.locator('#operations-Keys-KeysController_put').waitFor({ timeout: 20_000 });
      expect(await page.locator('.opblock').count()).toBeGreaterThanOrEqual(7);
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
      expect({ errors, failedRequests }).toEqual({ errors: [], failedRequests: [] });
      await page.close();
    }, 60_000);
  });
});
