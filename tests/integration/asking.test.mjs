// Integration: the shop asks the provider before it acts (CONTRACT.md, "After
// paying": "Asking the provider", "Expiry and cancel never act blind",
// "Buyer cancel") through the real nginx, app, MariaDB, RabbitMQ, the
// consumers (order, pay, query, goods, coupon, user, log) and the provider
// sandbox: a notification that never comes (the sandbox's /test/pay with
// notify=0: money taken, nothing sent) is found by the periodic
// alipay.trade.query; an expiring paying order is asked about, then paid or
// closed at the provider and cancelled; the buyer's cancel (API and the order
// page's button) gives stock, coupon and balance back once.
//   node --test tests/integration/asking.test.mjs
// Needs: scripts/services start all (the sandbox with --test-hooks), the
// mariadb client; pay_query_after_s short (scripts/test sets 5 s through
// SHOP_PAY_QUERY_AFTER_S).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { api, buyer, newGoods, sql, one, count, cents, fmt, publish, eventually, setting,
  APP_ID, runKey, signingString, notification, signed, form, notify, orderBody } from './shop.mjs';

const queryAfterS = Number(setting('pay_query_after_s') || 300);
const merchantKey = runKey('merchant_private.pem');

const orderRow = (o) => sql(`SELECT order_status, pay_status FROM trade_order
  WHERE order_id = ${o}`)[0];
const stock = (g) => count(`SELECT goods_number FROM trade_goods WHERE goods_id = ${g}`);
const balance = (u) => cents(one(`SELECT user_money FROM trade_user WHERE user_id = ${u}`));
const couponUsed = (c) => one(`SELECT is_used FROM trade_coupon WHERE coupon_id = ${c}`);
const score = (u) => count(`SELECT user_score FROM trade_user WHERE user_id = ${u}`);
const goodsLog = (o, dir) => count(`SELECT COUNT(*) FROM trade_goods_number_log
  WHERE order_id = ${o} AND direction = ${dir}`);
const moneyLog = (o, type) => count(`SELECT COUNT(*) FROM trade_user_money_log
  WHERE order_id = ${o} AND money_log_type = ${type}`);
const logged = (o, event) => count(`SELECT COUNT(*) FROM trade_order_log
  WHERE order_id = ${o} AND event = '${event}'`);
const paid = (o, ms = 30000) => eventually(() => orderRow(o), (r) => r[1] === '2', ms);
const cancelled = (o) => eventually(() => orderRow(o)[0], (s) => s === '2');

async function placeOrder(b, g, price, opts = {}) {
  const r = await api('/api/orders', { method: 'POST', body: orderBody(g, price, 1, opts),
    cookie: b.cookie, csrf: b.csrf });
  assert.equal(r.res.status, 201, r.text);
  return r.body.order;
}

// A confirmed order, paying: started here and its cashier page opened at the
// sandbox (which opens the trade there). { order, pay, sandbox (origin) }.
async function paying(b, g, price, opts = {}) {
  const o = await placeOrder(b, g, price, opts);
  const r = await api(`/api/orders/${o.order_id}/payment`,
    { method: 'POST', cookie: b.cookie, csrf: b.csrf });
  assert.equal(r.res.status, 200, r.text);
  const cashier = await api('', { url: r.body.redirect_url });
  assert.equal(cashier.res.status, 200, cashier.text);
  return { order: o, pay: r.body, sandbox: new URL(r.body.redirect_url).origin };
}

// The sandbox takes the money of order o without notifying the shop.
async function payLosingNotification(sandbox, o) {
  const r = await api('', { url: `${sandbox}/test/pay`, method: 'POST',
    body: form({ out_trade_no: String(o), notify: '0' }),
    headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.ok(r.res.status < 400, `POST /test/pay: ${r.res.status} ${r.text}`);
}

// alipay.trade.query at the sandbox, signed with the merchant's key as the
// shop signs it (written again here): the answer object.
async function providerQuery(sandbox, o) {
  const p = { app_id: APP_ID, method: 'alipay.trade.query', format: 'JSON', charset: 'utf-8',
    sign_type: 'RSA2', timestamp: new Date().toISOString().slice(0, 19).replace('T', ' '),
    version: '1.0', biz_content: JSON.stringify({ out_trade_no: String(o) }) };
  p.sign = crypto.createSign('RSA-SHA256').update(signingString(p, true), 'utf8')
    .sign(merchantKey, 'base64');
  const r = await api('', { url: `${sandbox}/gateway.do`, method: 'POST', body: form(p),
    headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(r.res.status, 200, r.text);
  return r.body.alipay_trade_query_response;
}

const cancel = (b, o) => api(`/api/orders/${o}/cancel`,
  { method: 'POST', cookie: b.cookie, csrf: b.csrf });

// --- asking the provider ---------------------------------------------------

test('a lost notification: the shop asks the provider and the order is paid, points once', async () => {
  const b = await buyer();
  const g = newGoods(10, 990);
  const { order: o, pay, sandbox } = await paying(b, g, 990, { pay: 0 }); // 19.90
  await payLosingNotification(sandbox, o.order_id);
  const t0 = Date.now();
  assert.deepEqual(await paid(o.order_id, (queryAfterS + 20) * 1000), ['1', '2']);
  assert.ok(Date.now() - t0 < (queryAfterS + 20) * 1000);
  await eventually(() => score(b.id), (s) => s === 19);
  const at = await providerQuery(sandbox, o.order_id);
  assert.equal(at.trade_status, 'TRADE_SUCCESS');
  assert.equal(one(`SELECT trade_no FROM trade_pay WHERE order_id = ${o.order_id}`), at.trade_no);
  await eventually(() => logged(o.order_id, 'pay.asked'), (n) => n === 1);
  // The real notification after all: a duplicate, nothing changes.
  const r = await notify(form(signed(notification(o.order_id, pay.pay_amount,
    { trade_no: at.trade_no }))));
  assert.equal(r.text, 'success');
  await eventually(() => count(`SELECT COUNT(*) FROM trade_mq_consumer_log
    WHERE group_name = 'audit' AND msg_tag = 'pay.notify' AND msg_id LIKE 'pay.notify:${o.order_id}:%'`),
  (n) => n >= 1);
  await new Promise((res) => setTimeout(res, 1000));
  assert.equal(score(b.id), 19, 'points once');
  assert.equal(count(`SELECT COUNT(*) FROM trade_mq_consumer_log WHERE group_name = 'user'
    AND msg_tag = 'order.paid' AND msg_key = '${o.order_id}'`), 1);
  const page = await api(`/orders/${o.order_id}`, { cookie: b.cookie });
  assert.match(page.text, /Asked the payment provider: paid/);
});

// --- expiry never acts blind -----------------------------------------------

const expire = (o) => publish('order.timeout', `order.timeout:unpaid:${o}`,
  { order_id: String(o), kind: 'unpaid' });

test('expiry of a paying order the provider says is paid: paid, not cancelled', async () => {
  const b = await buyer({ money: 10000 });
  const g = newGoods(10, 2000);
  const { order: o, sandbox } = await paying(b, g, 2000, { pay: 500 });
  await payLosingNotification(sandbox, o.order_id);
  expire(o.order_id); // before the periodic check: the expiry asks
  assert.deepEqual(await paid(o.order_id), ['1', '2']);
  assert.equal(count(`SELECT COUNT(*) FROM trade_mq_producer_temp
    WHERE id = 'pay.asked:${o.order_id}:expiry'`), 1, 'the expiry asked the provider');
  await new Promise((res) => setTimeout(res, 1500));
  assert.deepEqual(orderRow(o.order_id), ['1', '2'], 'not cancelled');
  assert.equal(stock(g), 9);
  assert.equal(balance(b.id), 9500);
  assert.equal(count(`SELECT COUNT(*) FROM trade_mq_producer_temp
    WHERE id = 'order.cancel:${o.order_id}'`), 0);
});

test('expiry of a paying order unpaid at the provider: closed there, cancelled here, no money taken later', async () => {
  const b = await buyer({ money: 10000 });
  const g = newGoods(10, 2000);
  const { order: o, pay, sandbox } = await paying(b, g, 2000, { pay: 500 });
  expire(o.order_id);
  await cancelled(o.order_id);
  await eventually(() => balance(b.id), (m) => m === 10000);
  await eventually(() => stock(g), (s) => s === 10);
  assert.equal((await providerQuery(sandbox, o.order_id)).trade_status, 'TRADE_CLOSED');
  await eventually(() => logged(o.order_id, 'pay.closed'), (n) => n === 1);
  // The buyer comes back to the cashier: the provider refuses to take money.
  const again = await api('', { url: pay.redirect_url });
  assert.doesNotMatch(again.text, /name="trade" value=/);
  assert.equal((await providerQuery(sandbox, o.order_id)).trade_status, 'TRADE_CLOSED');
  assert.deepEqual(orderRow(o.order_id), ['2', '1']);
});

// --- the buyer cancels -----------------------------------------------------

test('buyer cancel of an unpaid order: stock, coupon and balance back once; twice is harmless', async () => {
  const b = await buyer({ money: 10000, coupons: [300] });
  const g = newGoods(10, 2000);
  const o = await placeOrder(b, g, 2000, { couponId: b.coupons[0], couponCents: 300, pay: 700 });
  assert.equal(stock(g), 9);
  assert.equal(balance(b.id), 9300);
  assert.equal(couponUsed(b.coupons[0]), '1');
  let r = await cancel(b, o.order_id);
  assert.equal(r.res.status, 200, r.text);
  assert.equal(r.body.success, true);
  assert.equal(r.body.order.order_status, 2);
  await eventually(() => [stock(g), balance(b.id), couponUsed(b.coupons[0])],
    (x) => x[0] === 10 && x[1] === 10000 && x[2] === '0');
  r = await cancel(b, o.order_id);
  assert.equal(r.res.status, 200, r.text);
  assert.equal(r.body.order.order_status, 2);
  await new Promise((res) => setTimeout(res, 1000));
  assert.deepEqual([stock(g), balance(b.id), couponUsed(b.coupons[0])], [10, 10000, '0']);
  assert.equal(goodsLog(o.order_id, 2), 1, 'stock back once');
  assert.equal(moneyLog(o.order_id, 2), 1, 'balance back once');
  await eventually(() => logged(o.order_id, 'order.cancel'), (n) => n === 1);
  const page = await api(`/orders/${o.order_id}`, { cookie: b.cookie });
  assert.match(page.text, /Cancelled by you/);
  assert.doesNotMatch(page.text, /id="cancel-button"/);
  // Paying a cancelled order is refused.
  r = await api(`/api/orders/${o.order_id}/payment`, { method: 'POST', cookie: b.cookie, csrf: b.csrf });
  assert.equal(r.res.status, 409, r.text);
});

test('buyer cancel: a paid order is 409 SHOP_ORDER_PAID; another user\'s or no order is 404', async () => {
  const b = await buyer({ money: 10000 });
  const g = newGoods(10, 2000);
  const o = await placeOrder(b, g, 2000); // the balance pays it all
  assert.deepEqual(orderRow(o.order_id), ['1', '2']);
  let r = await cancel(b, o.order_id);
  assert.equal(r.res.status, 409, r.text);
  assert.equal(r.body.code, 'SHOP_ORDER_PAID');
  assert.deepEqual(orderRow(o.order_id), ['1', '2']);
  const other = await buyer();
  r = await cancel(other, o.order_id);
  assert.equal(r.res.status, 404, r.text);
  r = await cancel(other, '1234567890123');
  assert.equal(r.res.status, 404, r.text);
  // Without the CSRF token: refused, nothing changed.
  r = await api(`/api/orders/${o.order_id}/cancel`, { method: 'POST', cookie: b.cookie });
  assert.equal(r.res.status, 403, r.text);
  assert.deepEqual(orderRow(o.order_id), ['1', '2']);
});

test('buyer cancel of a paying order the provider says is paid: 409, then the order is paid', async () => {
  const b = await buyer();
  const g = newGoods(10, 990);
  const { order: o, sandbox } = await paying(b, g, 990, { pay: 0 });
  await payLosingNotification(sandbox, o.order_id);
  const r = await cancel(b, o.order_id);
  assert.equal(r.res.status, 409, r.text);
  assert.equal(r.body.code, 'SHOP_ORDER_PAID');
  assert.deepEqual(await paid(o.order_id), ['1', '2']);
  assert.equal(stock(g), 9);
});

test('buyer cancel of a paying order unpaid at the provider: closed there, then cancelled', async () => {
  const b = await buyer({ money: 10000 });
  const g = newGoods(10, 2000);
  const { order: o, sandbox } = await paying(b, g, 2000, { pay: 1000 });
  const r = await cancel(b, o.order_id);
  assert.equal(r.res.status, 200, r.text);
  assert.equal(r.body.order.order_status, 2);
  assert.equal((await providerQuery(sandbox, o.order_id)).trade_status, 'TRADE_CLOSED');
  await eventually(() => [stock(g), balance(b.id)], (x) => x[0] === 10 && x[1] === 10000);
  await eventually(() => logged(o.order_id, 'pay.closed'), (n) => n === 1);
  const page = await api(`/orders/${o.order_id}`, { cookie: b.cookie });
  assert.match(page.text, /You asked to cancel; asked the payment provider: not paid/);
  assert.match(page.text, /Closed at the payment provider/);
});

test('the order page\'s cancel button: a form with the CSRF token, back to the order, cancelled', async () => {
  const b = await buyer({ money: 10000 });
  const g = newGoods(10, 2000);
  const o = await placeOrder(b, g, 2000, { pay: 600 });
  let page = await api(`/orders/${o.order_id}`, { cookie: b.cookie });
  const m = page.text.match(/<form method="post" action="(\/orders\/\d+\/cancel)"[^>]*>\s*<input type="hidden" name="csrf_token" value="([^"]+)">/);
  assert.ok(m, 'the cancel form');
  let r = await api(m[1], { method: 'POST', cookie: b.cookie, body: form({ csrf_token: 'wrong' }),
    headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(r.res.status, 403);
  assert.deepEqual(orderRow(o.order_id), ['1', '0']);
  r = await api(m[1], { method: 'POST', cookie: b.cookie, body: form({ csrf_token: m[2] }),
    headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(r.res.status, 303, r.text);
  assert.equal(r.res.headers.get('location'), `/orders/${o.order_id}`);
  page = await api(`/orders/${o.order_id}`, { cookie: b.cookie });
  assert.match(page.text, /id="order-status">Cancelled</);
  await eventually(() => balance(b.id), (x) => x === 10000);
  assert.equal(fmt(balance(b.id)), '100.00');
});
