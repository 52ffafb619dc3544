// Integration: chaos (issue 10). Orders and payments keep coming while the
// app and every consumer are killed with SIGKILL (scripts/services start
// brings them back) and RabbitMQ and MariaDB are restarted; once things
// settle, the books must balance:
//   a. ordering: buyers registered through the API, with balance and
//      coupons, on small stock: for each goods, initial stock minus stock now
//      is the units of its confirmed orders; for each buyer, initial balance
//      minus balance now is the money_paid of their confirmed orders; each
//      used coupon is named by exactly one confirmed order (and each free one
//      by none); no order is left unconfirmed (pre-orders settle through
//      expiry: the app and consumers run with a 5 s preorder timeout here);
//   b. paying: signed notifications under load while the pay and order
//      consumers are killed and the broker restarts; every acknowledged
//      (`success`) notification ends paid, once, with its points once.
// Bounded: each part places its load for as long as its faults take (a few
// tens of seconds) and waits at most 90 s for the books. Every test leaves
// the services as it found them (all running, default settings).
//   node --test tests/integration/chaos.test.mjs
// Needs: scripts/services start all, the SHOP_* variables (<run>/test-env.sh).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { api, buyer, newGoods, services, runDir, sleep, sql, count, eventually, pool, signal,
  orderBody, fmt, cents, notification, signed, form, notify } from './shop.mjs';

// Pre-orders of a killed saga expire after 5 s instead of a minute.
const FAST = { SHOP_PREORDER_TIMEOUT_S: '5', SHOP_FAULT_INJECT: undefined,
  SHOP_INSTANCES: undefined };
const NORMAL = { ...FAST, SHOP_PREORDER_TIMEOUT_S: undefined };

after(async () => {
  await services(NORMAL, 'start', 'all');
  await services(NORMAL, 'restart', 'app', 'consumers');
});

// The consumers scripts/services runs (shop-consumer-NAME.pid).
const consumers = () => readdirSync(join(runDir, 'pids'))
  .map((f) => /^shop-consumer-([a-z]+)\.pid$/.exec(f)?.[1]).filter(Boolean);

// A request that may meet a killed app (502 from nginx) or a reset
// connection: its answer, or { status: 0 }.
async function attempt(fn) {
  try {
    return await fn();
  } catch (e) {
    return { status: 0, text: String(e) };
  }
}

// Run faults (async functions, in turn) while load(i) is called again and
// again, `lanes` at a time, until the faults are done and at least `min`
// calls were made. The answers, in order; what took long is told to t.
async function underChaos(t, faults, load, { lanes = 4, min = 0 } = {}) {
  let done = false;
  let next = 0;
  const answers = [];
  const chaos = (async () => {
    try {
      for (const f of faults) {
        const t0 = Date.now();
        await f();
        if (Date.now() - t0 > 2000) t.diagnostic(`${f.what}: ${Date.now() - t0} ms`);
      }
    } finally {
      done = true;
    }
  })();
  const lane = async () => {
    while (!done || next < min) {
      const i = next++;
      answers[i] = await attempt(() => load(i));
      await sleep(200);
    }
  };
  await Promise.all([chaos, ...Array.from({ length: lanes }, lane)]);
  return answers;
}

const named = (what, f) => Object.assign(f, { what });
const kill = (name) => named(`kill ${name}`, async () => {
  signal(name, 'SIGKILL');
  await sleep(400);
});
const start = (...what) => named(`start ${what}`, () => services(FAST, 'start', ...what));
const restart = (...what) => named(`restart ${what}`, () => services(FAST, 'restart', ...what));
const pause = (ms) => named('pause', () => sleep(ms));

const byId = (rows) => Object.fromEntries(rows.map(([k, v]) => [k, v]));
const list = (xs) => xs.join(',');

test('ordering under SIGKILL of the app and every consumer and restarts of RabbitMQ and MariaDB: the books balance', async (t) => {
  await services(FAST, 'restart', 'app', 'consumers');
  // Registering hashes a password (argon2id): a few at a time.
  const buyers = await pool(Array.from({ length: 8 }, () => () =>
    buyer({ money: 100000, coupons: [500, 500], prefix: 'chaos' })), 3);
  const goods = [newGoods(25, 990), newGoods(25, 1490), newGoods(30, 2990)];
  const prices = [990, 1490, 2990];
  const users = buyers.map((b) => b.id);
  const coupons = buyers.flatMap((b) => b.coupons);
  const stock0 = byId(sql(`SELECT goods_id, goods_number FROM trade_goods
    WHERE goods_id IN (${list(goods)})`));
  const money0 = byId(sql(`SELECT user_id, user_money FROM trade_user
    WHERE user_id IN (${list(users)})`));

  // Each buyer in turn; every third order with one of their coupons, every
  // other one paying part from the balance.
  const place = (i) => {
    const b = buyers[i % buyers.length];
    const k = i % goods.length;
    const opts = i % 3 === 0 ? { couponId: b.coupons[(i >> 3) % 2], couponCents: 500 } : {};
    if (i % 2) opts.pay = 300;
    return api('/api/orders', { method: 'POST', body: orderBody(goods[k], prices[k], 1, opts),
      cookie: b.cookie, csrf: b.csrf }).then((r) => ({ status: r.res.status, text: r.text }));
  };
  const faults = [pause(500), kill('shop-app'), start('app'), pause(1000)];
  for (const c of consumers()) faults.push(kill(`shop-consumer-${c}`), pause(300));
  faults.push(start('consumers'), pause(1000), restart('mq'), pause(1000), restart('db'),
    pause(1000), start('all'));
  const answers = await underChaos(t, faults, place, { lanes: 4, min: 40 });
  const by = {};
  for (const a of answers) by[a.status] = (by[a.status] || 0) + 1;
  t.diagnostic(`${answers.length} orders placed under chaos; answers ${JSON.stringify(by)}`);
  assert.ok(by[201] > 0, 'some orders went through');

  const books = () => {
    const stock = byId(sql(`SELECT goods_id, goods_number FROM trade_goods
      WHERE goods_id IN (${list(goods)})`));
    const units = byId(sql(`SELECT goods_id, SUM(goods_number) FROM trade_order
      WHERE goods_id IN (${list(goods)}) AND order_status = 1 GROUP BY goods_id`));
    const money = byId(sql(`SELECT user_id, user_money FROM trade_user
      WHERE user_id IN (${list(users)})`));
    const paid = byId(sql(`SELECT user_id, SUM(money_paid) FROM trade_order
      WHERE user_id IN (${list(users)}) AND order_status = 1 GROUP BY user_id`));
    const used = sql(`SELECT coupon_id, is_used, IFNULL(order_id, 0) FROM trade_coupon
      WHERE coupon_id IN (${list(coupons)})`);
    const named = sql(`SELECT coupon_id, order_id FROM trade_order
      WHERE coupon_id IN (${list(coupons)}) AND order_status = 1`);
    const open = count(`SELECT COUNT(*) FROM trade_order WHERE user_id IN (${list(users)})
      AND order_status = 0`);
    const wrong = [];
    for (const g of goods) {
      const taken = Number(stock0[g]) - Number(stock[g]);
      if (taken !== Number(units[g] || 0))
        wrong.push(`goods ${g}: ${taken} units taken, ${units[g] || 0} in confirmed orders`);
    }
    for (const u of users) {
      const spent = cents(money0[u]) - cents(money[u]);
      if (spent !== cents(paid[u] || '0'))
        wrong.push(`user ${u}: ${fmt(spent)} spent, ${paid[u] || '0.00'} paid by confirmed orders`);
    }
    for (const [c, isUsed, order] of used) {
      const by = named.filter(([nc]) => nc === c).map(([, o]) => o);
      if (isUsed === '1' && (by.length !== 1 || by[0] !== order))
        wrong.push(`coupon ${c} used by ${order}, named by confirmed orders [${by}]`);
      if (isUsed !== '1' && by.length !== 0)
        wrong.push(`coupon ${c} is free but named by confirmed orders [${by}]`);
    }
    if (open) wrong.push(`${open} order(s) left unconfirmed`);
    return wrong;
  };
  const settle = Date.now();
  const wrong = await eventually(books, (w) => w.length === 0, 90000, 1000);
  t.diagnostic(`settled in ${Date.now() - settle} ms`);
  assert.deepEqual(wrong, []);
  const confirmed = count(`SELECT COUNT(*) FROM trade_order WHERE user_id IN (${list(users)})
    AND order_status = 1`);
  t.diagnostic(`${confirmed} confirmed orders; the books balance`);
  assert.ok(confirmed > 0);
});

test('paying under SIGKILL of the pay and order consumers and a broker restart: every acknowledged notification pays once, points once', async (t) => {
  await services(FAST, 'start', 'all');
  const buyers = await pool(Array.from({ length: 4 }, () => () =>
    buyer({ prefix: 'chaospay' })), 3);
  const g = newGoods(100, 1337);
  // 16 confirmed orders (4 each) of 1 to 5 units, payments started.
  const orders = await pool(Array.from({ length: 16 }, (_, i) => async () => {
    const b = buyers[i % buyers.length];
    const r = await api('/api/orders', { method: 'POST', body: orderBody(g, 1337, 1 + (i % 5), { pay: 0 }),
      cookie: b.cookie, csrf: b.csrf });
    assert.equal(r.res.status, 201, r.text);
    const p = await api(`/api/orders/${r.body.order.order_id}/payment`, { method: 'POST',
      cookie: b.cookie, csrf: b.csrf });
    assert.equal(p.res.status, 200, p.text);
    const n = notification(r.body.order.order_id, p.body.pay_amount);
    return { id: r.body.order.order_id, user: b.id, amount: p.body.pay_amount,
      body: form(signed(n)), tradeNo: n.trade_no, acked: false };
  }), 4);
  const users = buyers.map((b) => b.id);
  const score0 = byId(sql(`SELECT user_id, user_score FROM trade_user
    WHERE user_id IN (${list(users)})`));

  // As the provider does: each notification again until it is acknowledged;
  // some copies after that too (a provider may repeat one).
  const send = async (i) => {
    const o = orders[i % orders.length];
    const r = await notify(o.body);
    if (r.text === 'success') o.acked = true;
    return r;
  };
  const faults = [pause(300), kill('shop-consumer-pay'), pause(800), kill('shop-consumer-order'),
    pause(800), start('consumers'), pause(500), restart('mq'), pause(500),
    kill('shop-consumer-pay'), pause(500), start('consumers'), pause(1000)];
  const answers = await underChaos(t, faults, send, { lanes: 4, min: 2 * orders.length });
  const by = {};
  for (const a of answers) by[a.text] = (by[a.text] || 0) + 1;
  t.diagnostic(`${answers.length} notifications sent under chaos; answers ${JSON.stringify(by)}`);
  await services(FAST, 'start', 'all');
  for (const o of orders.filter((x) => !x.acked)) {
    const r = await eventually(() => notify(o.body), (a) => a.text === 'success', 30000, 500);
    assert.equal(r.text, 'success', `order ${o.id}: acknowledged once the shop is back`);
    o.acked = true;
  }

  const ids = list(orders.map((o) => o.id));
  const state = () => {
    const wrong = [];
    const pay = byId(sql(`SELECT order_id, CONCAT(is_paid, ' ', IFNULL(trade_no, ''))
      FROM trade_pay WHERE order_id IN (${ids})`));
    const status = byId(sql(`SELECT order_id, pay_status FROM trade_order
      WHERE order_id IN (${ids})`));
    const paidEvents = byId(sql(`SELECT msg_key, COUNT(*) FROM trade_mq_producer_temp
      WHERE msg_tag = 'order.paid' AND msg_key IN (${ids}) GROUP BY msg_key`));
    const applied = byId(sql(`SELECT SUBSTRING_INDEX(msg_key, ':', 1), COUNT(*)
      FROM trade_mq_consumer_log WHERE group_name = 'pay' AND msg_key IN
      (${orders.map((o) => `'${o.id}:${o.tradeNo}'`).join(',')}) GROUP BY 1`));
    for (const o of orders) {
      if (pay[o.id] !== `2 ${o.tradeNo}`) wrong.push(`order ${o.id}: trade_pay ${pay[o.id]}`);
      if (status[o.id] !== '2') wrong.push(`order ${o.id}: pay_status ${status[o.id]}`);
      if (paidEvents[o.id] !== '1') wrong.push(`order ${o.id}: ${paidEvents[o.id] || 0} order.paid`);
      if (applied[o.id] !== '1') wrong.push(`order ${o.id}: applied ${applied[o.id] || 0} times`);
    }
    const score = byId(sql(`SELECT user_id, user_score FROM trade_user
      WHERE user_id IN (${list(users)})`));
    for (const u of users) {
      const earned = orders.filter((o) => o.user === u)
        .reduce((s, o) => s + Math.floor(cents(o.amount) / 100), 0);
      const got = Number(score[u]) - Number(score0[u]);
      if (got !== earned) wrong.push(`user ${u}: ${got} points, ${earned} earned`);
    }
    return wrong;
  };
  const settle = Date.now();
  let wrong = await eventually(state, (w) => w.length === 0, 90000, 1000);
  t.diagnostic(`settled in ${Date.now() - settle} ms`);
  assert.deepEqual(wrong, []);
  // Once: nothing more arrives later (a redelivery, the relay).
  await sleep(2000);
  wrong = state();
  assert.deepEqual(wrong, []);
});
