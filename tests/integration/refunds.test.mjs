// Integration: refunds (CONTRACT.md, "Refunds") through the real nginx, app,
// MariaDB, RabbitMQ, consumers and the provider sandbox, which must run with
// --test-hooks (scripts/services does): money that arrived for a cancelled
// order, a second payment, and a buyer's request that an operator approves
// (shop-admin refund …) each go back through the sandbox's refund API exactly
// once, also when the refund consumer is SIGKILLed mid-refund; a refund the
// sandbox refuses is `failed` and succeeds when retried; a buyer's full
// refund gives stock, coupon and balance back once and takes back the
// points. The sandbox's GET /test/refunds is what the provider refunded.
//   node --test tests/integration/refunds.test.mjs
// Needs: scripts/services start all.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { api, buyer, newGoods, services, sleep, count, sql, one, fmt, publish, eventually,
  orderBody, pidOf, runDir, binDir, sandboxPost, sandboxRefunds, payAtCashier, payable,
  paidOrder } from './shop.mjs';

const NORMAL = { SHOP_FAULT_INJECT: undefined };

after(async () => {
  await services(NORMAL, 'restart', 'consumers');
});

const orderRow = (o) => sql(`SELECT order_status, pay_status FROM trade_order
  WHERE order_id = ${o}`)[0];
const refundRows = (o) => sql(`SELECT refund_id, reason, refund_status, refund_amount, trade_no,
  last_error FROM trade_refund WHERE order_id = ${o} ORDER BY create_time, refund_id`);
const score = (u) => count(`SELECT user_score FROM trade_user WHERE user_id = ${u}`);
const money = (u) => count(`SELECT user_money * 100 FROM trade_user WHERE user_id = ${u}`);
const stock = (g) => count(`SELECT goods_number FROM trade_goods WHERE goods_id = ${g}`);
const ended = (o, status = 'succeeded') => eventually(() => refundRows(o),
  (rs) => rs.length > 0 && rs.every((x) => x[2] === status), 40000);

// shop-admin refund ACTION ID [NOTE]: { code, stdout, stderr }.
function admin(...args) {
  return new Promise((resolve) => {
    execFile(join(binDir, 'shop-admin'), ['--config', join(runDir, 'shop.conf'), 'refund', ...args],
      { env: process.env }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout,
        stderr }));
  });
}

const askRefund = (b, orderId, body = { reason: 'changed my mind' }) =>
  api(`/api/orders/${orderId}/refund`, { method: 'POST', body, cookie: b.cookie, csrf: b.csrf });

// A late payment: the order is cancelled by its expiry check (money from the
// balance given back), then the sandbox takes the buyer's money anyway.
async function latePayment(b, price, moneyPaid) {
  const { order: o, pay } = await payable(b, price, { moneyPaid });
  publish('order.timeout', `order.timeout:unpaid:${o.order_id}`,
    { order_id: o.order_id, kind: 'unpaid' });
  await eventually(() => orderRow(o.order_id)[0], (s) => s === '2');
  const r = await sandboxPost('/test/pay', { out_trade_no: o.order_id, notify: '1' });
  assert.ok(r.status < 400, `${r.status} ${r.text}`);
  await eventually(() => orderRow(o.order_id), (x) => x[0] === '4', 20000);
  return { order: o, pay };
}

// --- late and second payments ------------------------------------------------

test('a payment after the order was cancelled: refunded once at the provider, no points kept', async () => {
  const b = await buyer({ money: 10000 });
  const { order: o, pay } = await latePayment(b, 3000, 500); // pays 35.00
  assert.equal(pay.pay_amount, '35.00');
  const [row] = await ended(o.order_id);
  assert.equal(row[1], 'late');
  assert.equal(row[3], '35.00');
  const refunds = await sandboxRefunds(o.order_id);
  assert.equal(refunds.length, 1, JSON.stringify(refunds));
  assert.equal(refunds[0].out_request_no, row[0]);
  assert.equal(one(`SELECT refund_time IS NOT NULL FROM trade_refund WHERE refund_id = ${row[0]}`),
    '1');
  // Only the money goes back: the cancel gave back the balance, once.
  await eventually(() => count(`SELECT COUNT(*) FROM trade_mq_consumer_log
    WHERE group_name = 'user' AND msg_tag = 'order.refund' AND msg_key = '${o.order_id}'`),
  (n) => n === 1);
  assert.equal(score(b.id), 0);
  assert.equal(money(b.id), 10000);
  assert.deepEqual(orderRow(o.order_id), ['4', '2']);
  // The timeline shows the refund's steps.
  await eventually(() => count(`SELECT COUNT(*) FROM trade_order_log WHERE order_id = ${o.order_id}
    AND event IN ('refund.approved', 'refund.sent', 'refund.succeeded')`), (n) => n === 3);
  const page = await api(`/orders/${o.order_id}`, { cookie: b.cookie });
  assert.match(page.text, /Refund of 35\.00 succeeded/);
  assert.match(page.text, /data-refund-status="succeeded"/);
});

test('the refund consumer SIGKILLed mid-refund: still one refund at the provider, the row ends succeeded', async () => {
  for (const fault of ['refund_after_sent', 'refund_after_provider']) {
    await services({ SHOP_FAULT_INJECT: fault }, 'restart', 'consumers');
    const pid = pidOf('shop-consumer-refund');
    try {
      const b = await buyer();
      const { order: o } = await latePayment(b, 1200, 0); // pays 22.00
      // The consumer kills itself at the fault point, the row `sent`.
      await eventually(() => { try { process.kill(pid, 0); return true; } catch { return false; } },
        (alive) => !alive, 30000);
      assert.deepEqual(refundRows(o.order_id).map((x) => x[2]), ['sent'], fault);
      const before = await sandboxRefunds(o.order_id);
      assert.equal(before.length, fault === 'refund_after_sent' ? 0 : 1, fault);
      // Back without the fault: the redelivery asks first, sends only if unknown.
      await services(NORMAL, 'restart', 'consumers');
      const [row] = await ended(o.order_id);
      const refunds = await sandboxRefunds(o.order_id);
      assert.equal(refunds.length, 1, `${fault}: ${JSON.stringify(refunds)}`);
      assert.equal(refunds[0].out_request_no, row[0]);
      assert.equal(row[3], '22.00');
    } catch (e) {
      await services(NORMAL, 'restart', 'consumers'); // never leave the fault set
      throw e;
    }
  }
});

test('a second payment of a paid order: that trade is refunded, the first kept, the order stays paid', async () => {
  const b = await buyer();
  const { order: o } = await paidOrder(b, 1500); // pays 25.00
  const first = one(`SELECT trade_no FROM trade_pay WHERE order_id = ${o.order_id}`);
  const r = await sandboxPost('/test/pay-again', { out_trade_no: o.order_id, notify: '1' });
  assert.ok(r.status < 400, `${r.status} ${r.text}`);
  const [row] = await ended(o.order_id);
  assert.equal(row[1], 'second');
  assert.notEqual(row[4], first);
  const refunds = await sandboxRefunds(o.order_id);
  assert.equal(refunds.length, 1, JSON.stringify(refunds));
  assert.equal(refunds[0].trade_no, row[4]);
  assert.deepEqual(orderRow(o.order_id), ['1', '2']);
  assert.equal(one(`SELECT trade_no FROM trade_pay WHERE order_id = ${o.order_id}`), first);
  await eventually(() => score(b.id), (s) => s === 25); // the first payment's points stay
});

// --- the buyer's request -----------------------------------------------------

test('a buyer asks for a refund: 202 requested, shown on the page; again 409; not paid 409; not mine 404', async () => {
  const b = await buyer();
  const { order: o } = await paidOrder(b, 990);
  let r = await askRefund(b, o.order_id);
  assert.equal(r.res.status, 202, r.text);
  assert.equal(r.body.success, true);
  assert.equal(r.body.refund.refund_status, 'requested');
  assert.equal(r.body.refund.refund_amount, '19.90');
  assert.equal(r.body.refund.order_id, o.order_id);
  assert.equal(r.body.refund.reason, 'buyer');
  assert.equal(r.body.refund.note, 'changed my mind');
  assert.match(r.body.refund.refund_id, /^\d+$/);
  r = await askRefund(b, o.order_id);
  assert.equal(r.res.status, 409, r.text);
  assert.equal(r.body.code, 'SHOP_REFUND_EXISTS');
  r = await api(`/api/orders/${o.order_id}/refunds`, { cookie: b.cookie });
  assert.equal(r.res.status, 200, r.text);
  assert.equal(r.body.refunds.length, 1);
  assert.equal(r.body.refunds[0].refund_status, 'requested');
  const page = await api(`/orders/${o.order_id}`, { cookie: b.cookie });
  assert.match(page.text, /data-refund-status="requested"/);
  assert.doesNotMatch(page.text, /id="refund-button"/);
  await eventually(() => count(`SELECT COUNT(*) FROM trade_order_log
    WHERE order_id = ${o.order_id} AND event = 'refund.requested'`), (n) => n === 1);
  // Not paid: 409; another buyer's order: 404; without the CSRF token: 403.
  const { order: unpaid } = await payable(b, 500);
  r = await askRefund(b, unpaid.order_id);
  assert.equal(r.res.status, 409, r.text);
  assert.equal(r.body.code, 'SHOP_REFUND_NOT_PAID');
  const other = await buyer();
  r = await askRefund(other, o.order_id);
  assert.equal(r.res.status, 404, r.text);
  r = await api(`/api/orders/${o.order_id}/refund`, { method: 'POST', body: {}, cookie: b.cookie });
  assert.equal(r.res.status, 403, r.text);
  // Shipped: 409.
  const { order: shipped } = await paidOrder(b, 700);
  sql(`UPDATE trade_order SET shipping_status = 1 WHERE order_id = ${shipped.order_id}`);
  r = await askRefund(b, shipped.order_id);
  assert.equal(r.res.status, 409, r.text);
  assert.equal(r.body.code, 'SHOP_ORDER_SHIPPED');
  // Rejected by an operator: nothing goes to the provider.
  const id = (await api(`/api/orders/${o.order_id}/refunds`, { cookie: b.cookie }))
    .body.refunds[0].refund_id;
  let a = await admin('reject', id, 'no reason to');
  assert.equal(a.code, 0, a.stderr);
  assert.equal(JSON.parse(a.stdout).refund_status, 'rejected');
  a = await admin('approve', id);
  assert.equal(a.code, 1);
  assert.match(a.stderr, /SHOP_REFUND_STATE/);
  // The decision on the order's timeline, once; the refused one not at all.
  assert.deepEqual(sql(`SELECT detail FROM trade_order_log WHERE order_id = ${o.order_id}
    AND detail LIKE 'Refund ${id} %'`), [[`Refund ${id} rejected: no reason to (by operator shop-admin)`]]);
  assert.deepEqual(await sandboxRefunds(o.order_id), []);
  assert.deepEqual(orderRow(o.order_id), ['1', '2']);
});

test('an approved buyer refund: refunded once, stock, coupon and balance back once, points taken back once', async () => {
  const b = await buyer({ money: 5000, coupons: [500] });
  // 30.00 + 10.00 shipping - 5.00 coupon - 10.00 balance = 25.00 at the provider.
  const { order: o, goods: g } = await paidOrder(b, 3000,
    { moneyPaid: 1000, coupon: { id: b.coupons[0], cents: 500 } });
  assert.equal(o.pay_amount, '25.00');
  await eventually(() => score(b.id), (s) => s === 25);
  assert.equal(stock(g), 99);
  assert.equal(money(b.id), 4000);
  let r = await askRefund(b, o.order_id, {});
  assert.equal(r.res.status, 202, r.text);
  const id = r.body.refund.refund_id;
  const a = await admin('approve', id, 'fine');
  assert.equal(a.code, 0, a.stderr);
  assert.equal(JSON.parse(a.stdout).refund_status, 'approved');
  const [row] = await ended(o.order_id);
  assert.equal(row[3], '25.00');
  const refunds = await sandboxRefunds(o.order_id);
  assert.equal(refunds.length, 1, JSON.stringify(refunds));
  assert.equal(refunds[0].out_request_no, id);
  await eventually(() => [stock(g), money(b.id), score(b.id),
    one(`SELECT is_used FROM trade_coupon WHERE coupon_id = ${b.coupons[0]}`)],
  (x) => x[0] === 100 && x[1] === 5000 && x[2] === 0 && x[3] === '0');
  assert.deepEqual(orderRow(o.order_id), ['4', '2']);
  // The reversal and the points again (a redelivery): nothing happens twice.
  const cancel = one(`SELECT msg_body FROM trade_mq_producer_temp
    WHERE id = 'order.cancel:${o.order_id}'`);
  const points = one(`SELECT msg_body FROM trade_mq_producer_temp
    WHERE id = 'order.refund:${o.order_id}'`);
  publish('order.cancel', `order.cancel:${o.order_id}`, cancel);
  publish('order.refund', `order.refund:${o.order_id}`, points);
  await sleep(1500);
  assert.deepEqual([stock(g), money(b.id), score(b.id)], [100, 5000, 0]);
  assert.equal(count(`SELECT COUNT(*) FROM trade_user_money_log WHERE order_id = ${o.order_id}
    AND money_log_type = 2`), 1);
  // The order page: refunded, the steps in its history, no button.
  await eventually(() => count(`SELECT COUNT(*) FROM trade_order_log WHERE order_id = ${o.order_id}
    AND event LIKE 'refund.%'`), (n) => n === 4); // requested, approved, sent, succeeded
  const page = await api(`/orders/${o.order_id}`, { cookie: b.cookie });
  assert.match(page.text, /This order is refunded/);
  assert.match(page.text, /Refund of 25\.00 requested/);
  assert.match(page.text, /Refund of 25\.00 succeeded/);
  assert.doesNotMatch(page.text, /id="refund-button"/);
  r = await askRefund(b, o.order_id);
  assert.equal(r.res.status, 409);
  assert.equal(r.body.code, 'SHOP_ORDER_REFUNDED');
});

test('a refund the provider refuses is failed with the reason, and succeeds when retried', async () => {
  const b = await buyer();
  const { order: o } = await paidOrder(b, 1800);
  let r = await sandboxPost('/test/next-refund-fails', { sub_code: 'ACQ.SELLER_BALANCE_NOT_ENOUGH' });
  assert.ok(r.status < 400, `${r.status} ${r.text}`);
  r = await askRefund(b, o.order_id);
  assert.equal(r.res.status, 202, r.text);
  const id = r.body.refund.refund_id;
  let a = await admin('approve', id);
  assert.equal(a.code, 0, a.stderr);
  const [failed] = await ended(o.order_id, 'failed');
  assert.match(failed[5], /ACQ\.SELLER_BALANCE_NOT_ENOUGH/);
  assert.deepEqual(await sandboxRefunds(o.order_id), []);
  assert.deepEqual(orderRow(o.order_id), ['1', '2']);
  const page = await api(`/orders/${o.order_id}`, { cookie: b.cookie });
  assert.match(page.text, /data-refund-status="failed"/);
  assert.match(page.text, /ACQ\.SELLER_BALANCE_NOT_ENOUGH/);
  a = await admin('retry', id);
  assert.equal(a.code, 0, a.stderr);
  const [row] = await ended(o.order_id);
  assert.equal(row[0], id);
  assert.equal(count(`SELECT attempts FROM trade_refund WHERE refund_id = ${id}`), 2);
  const refunds = await sandboxRefunds(o.order_id);
  assert.equal(refunds.length, 1, JSON.stringify(refunds));
  assert.deepEqual(await eventually(() => orderRow(o.order_id), (x) => x[0] === '4'), ['4', '2']);
  a = await admin('retry', id);
  assert.equal(a.code, 1);
});
