// Browser: ordering as a buyer does it. Logs in as the demo user alice on
// /login, opens a goods page, fills the order form (quantity 1, address,
// consignee), places the order and lands on its page, confirmed; saves a
// screenshot to $SHOP_RUN_DIR/screenshots/order.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { base, launch, pageErrors, shots } from './browser.mjs';

test('alice logs in, orders one goods with the form and sees the order confirmed', async () => {
  const api = await (await fetch(`${base}/api/goods`)).json();
  const goods = api.goods.find((g) => g.goods_number > 0);
  assert.ok(goods, 'a goods in stock');
  const { browser, cleanup } = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = pageErrors(page);

    await page.goto(`${base}/login`);
    await page.fill('#login', 'alice');
    await page.fill('#password', 'alice-pass-1');
    await Promise.all([page.waitForNavigation(), page.click('form button[type="submit"]')]);
    assert.equal(await page.locator('.nav-user').innerText(), 'alice');

    const res = await page.goto(`${base}/goods/${goods.goods_id}`);
    assert.equal(res.status(), 200);
    assert.equal(await page.locator('h1').innerText(), goods.goods_name);
    const form = page.locator('form.order-form');
    await form.locator('#goods_number').fill('1');
    await form.locator('#address').fill('1 Browser Lane, Testville');
    await form.locator('#consignee').fill('Alice Browser');
    await Promise.all([page.waitForURL(/\/orders\/\d+$/), form.locator('button[type="submit"]').click()]);

    const orderId = page.url().match(/\/orders\/(\d+)$/)[1];
    assert.equal(await page.locator('h1 .mono').innerText(), orderId);
    assert.equal(await page.locator('#order-status').innerText(), 'Confirmed');
    assert.match(await page.locator('.order-delivery').innerText(), /1 Browser Lane, Testville/);
    assert.match(await page.locator('.order-delivery').innerText(), /Alice Browser/);
    assert.match(await page.locator('#history').innerText(), /Placed[\s\S]*Confirmed/);
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'order.png'), fullPage: true });

    // The order is listed among alice's orders.
    await page.goto(`${base}/orders`);
    assert.ok(await page.locator(`a[href="/orders/${orderId}"]`).first().isVisible());
    assert.deepEqual(errors, []);
  } finally {
    await cleanup();
  }
});
