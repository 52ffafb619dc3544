// Browser: the whole checkout. alice logs in, orders, presses Pay on the
// order page, pays at the provider sandbox's cashier (another origin), comes
// back to the shop's return page, which confirms the payment by itself
// (script polling the order), and then sees the order paid, its history,
// and the points on the account page. Screenshots of the cashier, the return
// page and the paid order go to $SHOP_RUN_DIR/screenshots/checkout-*.png.
// Then, once more, she asks for a refund of the paid order with the order
// page's form (no JavaScript needed) and sees it requested there.
// Needs the sandbox at the app's gateway (scripts/services runs it on
// SHOP_SANDBOX_PORT, 8081 by default, and writes alipay_gateway into
// shop.conf); without it the test is skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { base, launch, pageErrors, setting, shots } from './browser.mjs';

// The provider's origin as the app has it (its alipay_gateway), else the
// sandbox's port.
function gatewayOrigin() {
  const url = setting('alipay_gateway');
  return url ? new URL(url).origin : `http://127.0.0.1:${process.env.SHOP_SANDBOX_PORT || '8081'}`;
}
const sandbox = gatewayOrigin();

async function sandboxUp() {
  try {
    return (await fetch(`${sandbox}/`)).status === 200;
  } catch {
    return false;
  }
}

// The whole checkout in a browser context with contextOptions; shot names
// get suffix. refund: then ask for a refund with the order page's form.
async function checkout(t, contextOptions, suffix, refund = false) {
  if (!(await sandboxUp())) {
    t.skip(`the provider sandbox does not answer at ${sandbox}`);
    return;
  }
  const api = await (await fetch(`${base}/api/goods`)).json();
  const goods = api.goods.find((g) => g.goods_number > 0);
  assert.ok(goods, 'a goods in stock');
  const { browser, cleanup } = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 },
      ...contextOptions });
    const page = await context.newPage();
    const errors = pageErrors(page);
    mkdirSync(shots, { recursive: true });

    await page.goto(`${base}/login`);
    await page.fill('#login', 'alice');
    await page.fill('#password', 'alice-pass-1');
    await Promise.all([page.waitForNavigation(), page.click('form button[type="submit"]')]);
    await page.goto(`${base}/account`);
    const pointsBefore = Number(await page.locator('#points').innerText());

    // Order one.
    await page.goto(`${base}/goods/${goods.goods_id}`);
    const form = page.locator('form.order-form');
    await form.locator('#goods_number').fill('1');
    await form.locator('#address').fill('3 Checkout Road, Testville');
    await form.locator('#consignee').fill('Alice Checkout');
    await Promise.all([page.waitForURL(/\/orders\/\d+$/),
      form.locator('button[type="submit"]').click()]);
    const orderId = page.url().match(/\/orders\/(\d+)$/)[1];
    assert.equal(await page.locator('#order-status').innerText(), 'Confirmed');
    const toPay = await page.locator('#pay-amount').innerText();
    const points = Math.floor(Number(toPay));

    // Pay: to the provider's cashier, another origin.
    await Promise.all([page.waitForURL(`${sandbox}/**`), page.click('#pay-button')]);
    assert.match(await page.locator('body').innerText(), new RegExp(orderId));
    assert.match(await page.locator('.amount').innerText(), new RegExp(toPay.replace('.', '\\.')));
    await page.screenshot({ path: join(shots, `checkout-cashier${suffix}.png`), fullPage: true });
    await Promise.all([page.waitForURL(`${base}/pay/return?**`),
      page.click('button.pay')]);

    // Back at the shop: confirmed by itself (script polling the order, or
    // without script the page refreshing itself).
    assert.match(await page.locator('#pay-return-title').innerText(),
      /Payment received, confirming|Paid/);
    await page.locator('#pay-return[data-state="paid"]').waitFor({ timeout: 30000 });
    assert.equal(await page.locator('#pay-return-title').innerText(), 'Paid');
    await page.screenshot({ path: join(shots, `checkout-return${suffix}.png`), fullPage: true });

    // The order: paid, no pay button, the payment in its history.
    await page.click('#to-order');
    await page.waitForURL(`${base}/orders/${orderId}`);
    assert.equal(await page.locator('#pay-status').innerText(), 'Paid');
    assert.equal(await page.locator('#pay-button').count(), 0);
    // The log service may still be writing: reload until the history has it.
    for (let i = 0; i < 40; i++) {
      if (/Payment of [\d.]+ received/.test(await page.locator('#history').innerText())) break;
      await page.waitForTimeout(250);
      await page.reload();
    }
    assert.match(await page.locator('#history').innerText(),
      new RegExp(`Payment of ${toPay.replace('.', '\\.')} received`));
    await page.screenshot({ path: join(shots, `checkout-paid${suffix}.png`), fullPage: true });

    // The points on the account page (the user consumer adds them).
    let after = pointsBefore;
    for (let i = 0; i < 40 && after !== pointsBefore + points; i++) {
      await page.goto(`${base}/account`);
      after = Number(await page.locator('#points').innerText());
      if (after !== pointsBefore + points) await page.waitForTimeout(250);
    }
    assert.equal(after, pointsBefore + points);
    if (refund) await askRefund(page, orderId, toPay, suffix);
    assert.deepEqual(errors, []);
  } finally {
    await cleanup();
  }
}

// The paid order's page: "Ask for a refund" with a reason; back on the page,
// the refund is requested, the button gone, the request in the history.
async function askRefund(page, orderId, toPay, suffix) {
  await page.goto(`${base}/orders/${orderId}`);
  await page.fill('#refund-reason', 'Ordered the wrong size');
  await Promise.all([page.waitForURL(`${base}/orders/${orderId}`),
    page.click('#refund-button')]);
  const row = page.locator('#refunds tr.refund');
  assert.equal(await row.count(), 1);
  assert.equal(await row.getAttribute('data-refund-status'), 'requested');
  assert.match(await row.innerText(), /Requested/);
  assert.match(await row.innerText(), /Ordered the wrong size/);
  assert.match(await row.innerText(), new RegExp(toPay.replace('.', '\\.')));
  assert.equal(await page.locator('#refund-button').count(), 0);
  for (let i = 0; i < 40; i++) {
    if (/Refund of [\d.]+ requested/.test(await page.locator('#history').innerText())) break;
    await page.waitForTimeout(250);
    await page.reload();
  }
  assert.match(await page.locator('#history').innerText(),
    new RegExp(`Refund of ${toPay.replace('.', '\\.')} requested`));
  await page.screenshot({ path: join(shots, `checkout-refund${suffix}.png`), fullPage: true });
}

test('alice orders, pays in the sandbox, comes back and sees the order paid and her points',
  (t) => checkout(t, {}, ''));

test('the same checkout without JavaScript: the return page refreshes itself until paid',
  (t) => checkout(t, { javaScriptEnabled: false }, '-nojs'));

test('alice asks for a refund of her paid order on its page and sees it requested',
  (t) => checkout(t, { javaScriptEnabled: false }, '-refund', true));
