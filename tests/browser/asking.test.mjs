// Browser: the shop asks the provider. alice orders, pays at the sandbox's
// cashier with "Pay, but lose the notification" (the money is taken, no
// notification is ever sent), comes back to the return page, which waits,
// and sees the order paid once the shop has asked the provider
// (pay_query_after_s). Then she orders again and cancels that order with the
// order page's button: cancelled by her, the history says so. Screenshots go
// to $SHOP_RUN_DIR/screenshots/asking-*.png. Needs the sandbox at the app's
// gateway; without it the test is skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { base, launch, pageErrors, setting, shots } from './browser.mjs';

const sandbox = (() => {
  const url = setting('alipay_gateway');
  return url ? new URL(url).origin : `http://127.0.0.1:${process.env.SHOP_SANDBOX_PORT || '8081'}`;
})();
const queryAfterS = Number(setting('pay_query_after_s') || 300);

async function sandboxUp() {
  try {
    return (await fetch(`${sandbox}/`)).status === 200;
  } catch {
    return false;
  }
}

// Order one of goods on its page; lands on the order page. The order id.
async function orderOne(page, goods, consignee) {
  await page.goto(`${base}/goods/${goods.goods_id}`);
  const form = page.locator('form.order-form');
  await form.locator('#goods_number').fill('1');
  await form.locator('#address').fill('5 Asking Avenue, Testville');
  await form.locator('#consignee').fill(consignee);
  await Promise.all([page.waitForURL(/\/orders\/\d+$/),
    form.locator('button[type="submit"]').click()]);
  assert.equal(await page.locator('#order-status').innerText(), 'Confirmed');
  return page.url().match(/\/orders\/(\d+)$/)[1];
}

// Reload the order page until the history matches re (the log consumer may
// still be writing).
async function historyHas(page, re) {
  for (let i = 0; i < 60 && !re.test(await page.locator('#history').innerText()); i++) {
    await page.waitForTimeout(250);
    await page.reload();
  }
  assert.match(await page.locator('#history').innerText(), re);
}

test('a lost notification: back from paying, alice sees the order paid; another she cancels with the button',
  async (t) => {
    if (!(await sandboxUp())) {
      t.skip(`the provider sandbox does not answer at ${sandbox}`);
      return;
    }
    if (queryAfterS > 60) {
      t.skip(`pay_query_after_s ${queryAfterS} is too long for a test`);
      return;
    }
    const api = await (await fetch(`${base}/api/goods`)).json();
    const goods = api.goods.find((g) => g.goods_number > 1);
    assert.ok(goods, 'a goods in stock');
    const { browser, cleanup } = await launch();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors = pageErrors(page);
      mkdirSync(shots, { recursive: true });
      await page.goto(`${base}/login`);
      await page.fill('#login', 'alice');
      await page.fill('#password', 'alice-pass-1');
      await Promise.all([page.waitForNavigation(), page.click('form button[type="submit"]')]);

      // Pay, but the notification is lost.
      const paidId = await orderOne(page, goods, 'Alice Asking');
      await Promise.all([page.waitForURL(`${sandbox}/**`), page.click('#pay-button')]);
      await Promise.all([page.waitForURL(`${base}/pay/return?**`),
        page.getByRole('button', { name: 'Pay, but lose the notification' }).click()]);
      await page.locator('#pay-return[data-state="paid"]')
        .waitFor({ timeout: (queryAfterS + 30) * 1000 });
      assert.equal(await page.locator('#pay-return-title').innerText(), 'Paid');
      await page.screenshot({ path: join(shots, 'asking-return.png'), fullPage: true });
      await page.goto(`${base}/orders/${paidId}`);
      assert.equal(await page.locator('#pay-status').innerText(), 'Paid');
      assert.equal(await page.locator('#cancel-button').count(), 0);
      await historyHas(page, /Asked the payment provider: paid/);
      await page.screenshot({ path: join(shots, 'asking-paid.png'), fullPage: true });

      // Another order, cancelled with the button.
      const cancelId = await orderOne(page, goods, 'Alice Cancelling');
      await Promise.all([page.waitForNavigation(), page.click('#cancel-button')]);
      assert.equal(page.url(), `${base}/orders/${cancelId}`);
      assert.equal(await page.locator('#order-status').innerText(), 'Cancelled');
      assert.equal(await page.locator('#pay-button').count(), 0);
      await historyHas(page, /Cancelled by you/);
      await page.screenshot({ path: join(shots, 'asking-cancelled.png'), fullPage: true });
      assert.deepEqual(errors, []);
    } finally {
      await cleanup();
    }
  });
