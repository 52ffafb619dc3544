// Browser: Debian's chromium, headless, driven by playwright-core. Opens the
// catalogue and checks a buyer sees every goods with its price; saves a
// screenshot to $SHOP_RUN_DIR/screenshots/catalogue.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { base, launch, pageErrors, shots } from './browser.mjs';

test('a buyer opens the catalogue and sees every goods with its price', async () => {
  const api = await (await fetch(base + '/api/goods')).json();
  assert.equal(api.success, true);
  const { browser, cleanup } = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = pageErrors(page);
    const res = await page.goto(base + '/');
    assert.equal(res.status(), 200);
    assert.match(await page.title(), /Catalogue/);
    const cards = page.locator('.goods-card');
    assert.equal(await cards.count(), api.goods.length);
    for (const g of api.goods) {
      const card = page.locator(`.goods-card[data-goods-id="${g.goods_id}"]`);
      assert.equal(await card.locator('.goods-name').innerText(), g.goods_name);
      assert.equal(await card.locator('.price').innerText(), g.goods_price);
      assert.ok(await card.isVisible());
    }
    // The stylesheet applied: the header is not the browser's default look.
    const bg = await page.locator('.site-header').evaluate((e) => getComputedStyle(e).backgroundColor);
    assert.notEqual(bg, 'rgba(0, 0, 0, 0)');
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'catalogue.png'), fullPage: true });
    // Following a card opens the goods page.
    const first = api.goods[0];
    await page.locator(`.goods-card[data-goods-id="${first.goods_id}"] a.button`).click();
    await page.waitForURL(`**/goods/${first.goods_id}`);
    assert.equal(await page.locator('h1').innerText(), first.goods_name);
    assert.deepEqual(errors, []);
  } finally {
    await cleanup();
  }
});
