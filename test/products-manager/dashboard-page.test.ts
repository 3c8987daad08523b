import { mkdirSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis, waitFor } from '../support/redis.js';
import { ADMIN_TOKEN, type RunningService, startService } from './support/service.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT_DIR = 'test-output';

function redisKeys(redis: TestRedis, pattern: string): string[] {
  return redis
    .cli('--scan', '--pattern', pattern)
    .split('\n')
    .filter((line) => line !== '');
}

/** Waits for `condition` in the page; a failure says what the page's message line showed. */
async function waitOnPage(page: Page, condition: string, what: string): Promise<void> {
  try {
    await page.waitForFunction(condition, undefined, { timeout: 15_000 });
  } catch {
    throw new Error(`timed out waiting for ${what}; the page says: ${await page.textContent('#message')}`);
  }
}

describe('the cache dashboard page (headless Chromium)', () => {
  let redis: TestRedis;
  let svc: RunningService;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    redis = await startRedis();
    svc = await startService({ redisUrl: redis.url });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await svc?.stop();
    await redis?.stop();
  }, 60_000);

  it('loads with both workers, the chart and the warming tasks', async () => {
    await page.goto(`${svc.url}/`);
    await page.waitForSelector('#workers .card:nth-child(2)');
    expect(await page.textContent('#overall')).toBe('Redis connected');
    const cards = await page.locator('#workers .card').allTextContents();
    for (const card of cards) expect(card).toMatch(/coherencetracking, connected/);
    await page.waitForSelector('#chart .uplot');
    await waitOnPage(
      page,
      "document.querySelectorAll('#warming tbody tr').length === 6",
      'the warming tasks',
    );
    const tasks = await page.locator('#warming tbody tr td:nth-child(2)').allTextContents();
    expect(new Set(tasks)).toEqual(new Set(['dashboard_stats', 'products_count', 'supplier_list']));
  });

  it('shows the hit rate of a domain change after API traffic', async () => {
    const reads = async () => Number(await page.getAttribute('#hit-rate-catalog', 'data-reads'));
    const rateBefore = await page.textContent('#hit-rate-catalog');
    const readsBefore = await reads();
    for (let round = 0; round < 10; round++) {
      for (let id = 1; id <= 5; id++) await svc.request('GET', `/api/v1/products/${id}`);
    }
    await waitFor(async () => (await reads()) >= readsBefore + 50, 15_000, 'the page to count the new reads');
    const rateAfter = await page.textContent('#hit-rate-catalog');
    expect(rateAfter).not.toBe(rateBefore);
    expect(rateAfter).toMatch(/^\d+\.\d %$/);
  });

  it('lists the keys of a domain with the admin token, and invalidates the domain from the page', async () => {
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#token-form button');
    await page.selectOption('#keys-domain', 'catalog');
    await page.click('#keys-form button');
    await waitOnPage(page, "document.querySelectorAll('#keys-list tbody tr').length > 0", 'the key list');
    const listed = await page.locator('#keys-list tbody tr td:first-child').allTextContents();
    expect(listed).toEqual(expect.arrayContaining(['products_1', 'products_5']));
    await page.screenshot({ path: `${SCREENSHOT_DIR}/products-manager-dashboard.png`, fullPage: true });

    expect(redisKeys(redis, 'catalog_*').length).toBeGreaterThan(0);
    await page.click('[data-invalidate="catalog"]');
    await waitOnPage(
      page,
      "document.querySelector('#message')?.textContent?.includes('catalog invalidated')",
      'the invalidation',
    );
    await waitOnPage(
      page,
      "document.querySelectorAll('#keys-list tbody tr').length === 0",
      'an empty key list',
    );
    expect(redisKeys(redis, 'catalog_*')).toEqual([]);
  });

  it('flushes every domain after confirmation', async () => {
    await svc.request('GET', '/api/v1/media/1');
    await svc.request('GET', '/api/v1/dashboard');
    expect(redisKeys(redis, 'media_*').length).toBeGreaterThan(0);
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click('#flush');
    await waitOnPage(
      page,
      "document.querySelector('#message')?.textContent?.startsWith('Flushed')",
      'the flush',
    );
    expect([...redisKeys(redis, 'media_*'), ...redisKeys(redis, 'dashboard_*')]).toEqual([]);
  });

  it('shows that Redis is unreachable while the service keeps serving', async () => {
    await redis.kill();
    await waitOnPage(
      page,
      "document.querySelector('#overall')?.textContent?.startsWith('Redis unreachable')",
      'the outage',
    );
    expect((await svc.request('GET', '/api/v1/products/3')).status).toBe(200);
    await page.screenshot({
      path: `${SCREENSHOT_DIR}/products-manager-dashboard-redis-down.png`,
      fullPage: true,
    });
    await redis.start();
    await waitOnPage(
      page,
      "document.querySelector('#overall')?.textContent === 'Redis connected'",
      'Redis again',
    );
  });
});

mkdirSync(SCREENSHOT_DIR, { recursive: true });
