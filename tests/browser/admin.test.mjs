// Browser: the operators' console as an operator uses it. Logs in as the
// demo operator admin on /login, opens the console from the menu, finds an
// order by its id with the search form, opens it (timeline, payments,
// messages), then edits a goods' price on its console page and sees the new
// price on the catalogue's goods page; saves a screenshot to
// $SHOP_RUN_DIR/screenshots/admin.png; then approves a buyer's refund on the
// console's refunds page and finds the decision on the order's timeline.
// Without JavaScript, as the pages work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { base, launch, pageErrors, shots } from './browser.mjs';
import { api, buyer, eventually, newGoods, one, orderBody, paidOrder } from '../integration/shop.mjs';

// A page logged in as the demo operator admin, without JavaScript (as the
// console works): fn(page, errors) runs on it, then the browser closes.
async function asAdmin(fn) {
  const { browser, cleanup } = await launch();
  try {
    const context = await browser.newContext({ javaScriptEnabled: false,
      viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = pageErrors(page);
    await page.goto(`${base}/login`);
    await page.fill('#login', 'admin');
    await page.fill('#password', 'admin-pass-1');
    await Promise.all([page.waitForNavigation(), page.click('form button[type="submit"]')]);
    await fn(page, errors);
  } finally {
    await cleanup();
  }
}

test('admin finds an order, opens it, and edits a goods\' price that the catalogue then shows', async () => {
  const g = newGoods(5, 1500);
  const b = await buyer({ money: 10000, prefix: 'console' });
  const placed = await api('/api/orders', { method: 'POST', body: orderBody(g, 1500, 1),
    cookie: b.cookie, csrf: b.csrf });
  assert.equal(placed.res.status, 201, placed.text);
  const orderId = placed.body.order.order_id;

  await asAdmin(async (page, errors) => {
    await Promise.all([page.waitForURL(/\/admin$/), page.click('.site-nav a[href="/admin"]')]);

    await page.fill('#s-order', orderId);
    await Promise.all([page.waitForURL(/\/admin\?/), page.click('#order-search button[type="submit"]')]);
    const rows = page.locator('#orders tbody tr');
    assert.equal(await rows.count(), 1);
    await Promise.all([page.waitForURL(/\/admin\/orders\/\d+$/),
      page.click(`#orders a[href="/admin/orders/${orderId}"]`)]);
    assert.equal(await page.locator('h1 .mono').innerText(), orderId);
    assert.equal(await page.locator('#order-status').innerText(), 'Confirmed');
    assert.match(await page.locator('#history').innerText(), /Placed[\s\S]*Confirmed/);
    assert.ok(await page.locator('#payments').isVisible());
    assert.ok(await page.locator('#messages').isVisible());

    await page.click(`a[href="/admin/goods/${g}"]`);
    await page.fill('#e-price', '13.70');
    await Promise.all([page.waitForURL(/done=saved$/), page.click('#goods-edit button[type="submit"]')]);
    assert.equal(await page.locator('#goods-price').innerText(), '13.70');
    assert.match(await page.locator('.notice-ok').innerText(), /saved/);
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'admin.png'), fullPage: true });

    const res = await page.goto(`${base}/goods/${g}`);
    assert.equal(res.status(), 200);
    assert.match(await page.locator('main').innerText(), /13\.70/);
    assert.deepEqual(errors, []);
  });
});

test('admin approves a requested refund on the refunds page: on the order\'s timeline with the operator\'s name once, and it succeeds', async () => {
  const b = await buyer({ prefix: 'brefund' });
  const { order } = await paidOrder(b, 900);
  const asked = await api(`/api/orders/${order.order_id}/refund`, { method: 'POST',
    body: { reason: 'changed my mind' }, cookie: b.cookie, csrf: b.csrf });
  assert.equal(asked.res.status, 202, asked.text);
  const id = asked.body.refund.refund_id;

  await asAdmin(async (page, errors) => {
    await page.goto(`${base}/admin`);
    await Promise.all([page.waitForURL(/\/admin\/refunds$/), page.click('.admin-nav a[href="/admin/refunds"]')]);
    await page.selectOption('#r-status', 'requested');
    await Promise.all([page.waitForURL(/status=requested/), page.click('#refund-filter button[type="submit"]')]);
    const row = page.locator(`#refunds tr[data-refund-id="${id}"]`);
    assert.equal(await row.count(), 1);
    await row.locator('input[name="note"]').fill('agreed');
    await Promise.all([page.waitForURL(/done=approve$/), row.locator('button[value="approve"]').click()]);
    assert.match(await page.locator('.notice-ok').innerText(), /refund was changed/);
    // The order's timeline has the decision with the operator's name, once.
    await page.goto(`${base}/admin/orders/${order.order_id}`);
    const history = await page.locator('#history').innerText();
    assert.equal(history.split('(by operator admin)').length - 1, 1, history);
    assert.match(history, new RegExp(`Refund ${id} approved: agreed \\(by operator admin\\)`));
    await eventually(() => one(`SELECT refund_status FROM trade_refund WHERE refund_id = ${id}`),
      (s) => s === 'succeeded', 40000);
    assert.deepEqual(errors, []);
  });
});
