// Integration: ordering survives what goes wrong in production, through the
// real nginx, app, consumers, MariaDB and RabbitMQ of scripts/services:
//   a. a consumer killed with SIGKILL in the middle of a batch of order.cancel
//      events and started again: every reversal happens exactly once;
//   b. the broker stopped while orders fail: the cancel events wait in the
//      outbox and the relay delivers them once the broker is back;
//   c. scale-out (SHOP_INSTANCES=2: two apps behind nginx, two of each
//      consumer): racing buyers never oversell stock, use a coupon twice or
//      spend a balance below zero, and every cancelled order is reversed.
// Failures are made with the app's fault injection (SHOP_FAULT_INJECT=
// after_balance: the saga fails after the balance step, so every step has
// something to reverse). Every test restores the services it changed (the
// app without a fault, the broker running, one instance of each) before it
// ends. Run by scripts/test (with the others in tests/integration/):
//   node --test tests/integration/resilience.test.mjs
// with the SHOP_* variables of the running services (<run>/test-env.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, preSession, newGoods, services, runDir, sleep, one, cents, sql, eventually, pool, signal, pidOf,
  orderBody, fmt as money } from './shop.mjs';

// The app (every instance) without fault injection and one of everything.
const NORMAL = { SHOP_FAULT_INJECT: undefined, SHOP_INSTANCES: undefined };

// Ids no earlier run used, away from the demo rows and the other suites.
let seq = 0;
function freshSmallId() {
  seq += 1;
  return String(800000000 + (Date.now() % 10000000) * 10 + (seq % 10));
}
const tag = `${Date.now().toString(36).slice(-6)}${process.pid % 100}`;

// POST body to path as the logged-in user u: { status, body, text }.
async function post(path, u, body) {
  const r = await api(path, { method: 'POST', body, cookie: u?.cookie, csrf: u?.csrf });
  return { ...r, status: r.res.status };
}

// Register a fresh user through the API (that also logs in).
async function register(i) {
  const name = `rz${tag}u${i}`;
  const mobile = `1${String(Math.floor(Math.random() * 1e12)).padStart(12, '0')}${String(i).padStart(2, '0')}`;
  const r = await post('/api/users', await preSession(), { user_name: name, user_mobile: mobile,
    password: 'resilience-pass-1' });
  assert.equal(r.status, 201, `register ${name}: ${r.text}`);
  const cookie = r.res.headers.getSetCookie().map((c) => c.split(';')[0])
    .find((c) => c.startsWith('shop_session='));
  assert.ok(cookie, 'registration sets the session cookie');
  assert.ok(r.body.csrf_token, 'registration returns the CSRF token');
  return { id: r.body.user.user_id, name, cookie, csrf: r.body.csrf_token };
}

function newCoupon(userId, price = '5.00') {
  const c = freshSmallId();
  sql(`INSERT INTO trade_coupon (coupon_id, coupon_price, user_id, is_used)
       VALUES (${c}, ${price}, ${userId}, 0)`);
  return c;
}
const setMoney = (u, m) => sql(`UPDATE trade_user SET user_money = ${m} WHERE user_id = ${u.id}`);
const stock = (g) => Number(one(`SELECT goods_number FROM trade_goods WHERE goods_id = ${g}`));
const balances = (users) => Object.fromEntries(sql(`SELECT user_id, user_money FROM trade_user
  WHERE user_id IN (${users.map((u) => u.id).join(',')})`).map(([id, m]) => [id, m]));
const couponsUsed = (cs) => Number(one(`SELECT COUNT(*) FROM trade_coupon
  WHERE coupon_id IN (${cs.join(',')}) AND (is_used <> 0 OR order_id IS NOT NULL)`));
// order_status -> count, for the orders of one goods.
const statuses = (g) => Object.fromEntries(sql(`SELECT order_status, COUNT(*) FROM trade_order
  WHERE goods_id = ${g} GROUP BY order_status`).map(([s, n]) => [s, Number(n)]));

// Every order of goods g that is cancelled left nothing behind: its stock
// reduce (if any) has its restore, its balance payment its refund, and no
// coupon is held by it. Returns a list of what is wrong (empty when fine).
function unreversed(g) {
  const bad = [];
  for (const [o, d1, d2] of sql(`SELECT o.order_id,
        (SELECT COUNT(*) FROM trade_goods_number_log l WHERE l.order_id = o.order_id AND l.direction = 1),
        (SELECT COUNT(*) FROM trade_goods_number_log l WHERE l.order_id = o.order_id AND l.direction = 2)
      FROM trade_order o WHERE o.goods_id = ${g} AND o.order_status = 2`)) {
    if (d1 !== d2) bad.push(`order ${o}: ${d1} stock reduce(s), ${d2} restore(s)`);
  }
  for (const [o, t1, t2] of sql(`SELECT o.order_id,
        (SELECT COUNT(*) FROM trade_user_money_log m WHERE m.order_id = o.order_id AND m.money_log_type = 1),
        (SELECT COUNT(*) FROM trade_user_money_log m WHERE m.order_id = o.order_id AND m.money_log_type = 2)
      FROM trade_order o WHERE o.goods_id = ${g} AND o.order_status = 2`)) {
    if (t1 !== t2) bad.push(`order ${o}: ${t1} payment(s), ${t2} refund(s)`);
  }
  for (const [o, c] of sql(`SELECT o.order_id, c.coupon_id FROM trade_order o
      JOIN trade_coupon c ON c.order_id = o.order_id
      WHERE o.goods_id = ${g} AND o.order_status = 2`)) {
    bad.push(`order ${o} is cancelled but still holds coupon ${c}`);
  }
  return bad;
}

let users = [];

before(async () => {
  await services(NORMAL, 'start', 'all');
  // Registering hashes a password (argon2id): a few at a time.
  users = await pool(Array.from({ length: 12 }, (_, i) => () => register(i)), 3);
});

after(async () => {
  // Back to the default: one app without a fault, one of each consumer, the
  // broker running (each test does this too; this catches an early exit).
  await services(NORMAL, 'start', 'mq');
  await services(NORMAL, 'restart', 'app', 'consumers');
});

// Place `n` failing orders (fault after_balance) for each user, a few at a
// time; every third one with the user's coupon. Returns the answers.
async function failingOrders(g, us, coupons, n, limit = 8) {
  const fns = [];
  for (let i = 0; i < n; i++) {
    us.forEach((u, k) => {
      const opts = i % 3 === 0 ? { couponId: coupons[k], couponCents: 500 } : {};
      fns.push(() => post('/api/orders', u, orderBody(g, 990, 1, opts)));
    });
  }
  return pool(fns, limit);
}

function assertRefused(answers) {
  for (const a of answers) {
    assert.equal(a.status, 409, `a failing order answers 409: ${a.status} ${a.text}`);
    assert.equal(a.body.success, false);
    assert.match(a.body.code, /^SHOP_/);
  }
  const withId = answers.filter((a) => a.body.order_id);
  assert.ok(withId.length > answers.length / 2, 'most refusals came after the pre-order');
  for (const a of withId) assert.equal(typeof a.body.order_id, 'string');
  return withId.map((a) => a.body.order_id);
}

// Wait until every order of goods g is cancelled and reversed, and the
// stock, balances and coupons are back to what they were.
async function assertAllReversed(g, stockBefore, us, moneyBefore, coupons) {
  const state = () => ({
    stock: stock(g), money: balances(us), couponsUsed: couponsUsed(coupons),
    statuses: statuses(g), bad: unreversed(g),
  });
  const done = (s) => s.stock === stockBefore && s.couponsUsed === 0 && s.bad.length === 0 &&
    Object.keys(s.statuses).every((k) => k === '2') &&
    JSON.stringify(s.money) === JSON.stringify(moneyBefore);
  const s = await eventually(state, done, 60000, 500);
  assert.equal(s.stock, stockBefore, 'every unit of stock came back, once');
  assert.deepEqual(s.money, moneyBefore, 'every balance was refunded, once');
  assert.equal(s.couponsUsed, 0, 'every coupon is free again');
  assert.deepEqual(Object.keys(s.statuses), ['2'], `every order is cancelled: ${JSON.stringify(s.statuses)}`);
  assert.deepEqual(s.bad, []);
  // At most once: no restore or refund without its forward step.
  const extra = sql(`SELECT COUNT(*) FROM trade_goods_number_log l WHERE l.goods_id = ${g}
    AND l.direction = 2 AND NOT EXISTS (SELECT 1 FROM trade_goods_number_log r
      WHERE r.goods_id = l.goods_id AND r.order_id = l.order_id AND r.direction = 1)`)[0][0];
  assert.equal(extra, '0', 'no restore without a reduce');
}

test('a consumer killed with SIGKILL in the middle of a batch and started again reverses everything exactly once', async (t) => {
  const us = users.slice(0, 4);
  const g = newGoods(100000);
  const coupons = us.map((u) => newCoupon(u.id));
  for (const u of us) setMoney(u, '100000.00');
  const stockBefore = stock(g);
  const moneyBefore = balances(us);

  await services({ SHOP_FAULT_INJECT: 'after_balance' }, 'restart', 'app');
  let answers;
  try {
    // Hold the goods and user consumers so that the cancel events pile up.
    signal('shop-consumer-goods', 'SIGSTOP');
    signal('shop-consumer-user', 'SIGSTOP');
    try {
      answers = await failingOrders(g, us, coupons, 50);
    } finally {
      signal('shop-consumer-goods', 'SIGCONT');
      signal('shop-consumer-user', 'SIGCONT');
    }
    const orderIds = assertRefused(answers);
    // Kill both as soon as the goods consumer has reversed some (a batch of
    // prefetched messages is in flight, some committed, some not).
    const restored = () => Number(one(`SELECT COUNT(*) FROM trade_goods_number_log
      WHERE goods_id = ${g} AND direction = 2`));
    await eventually(restored, (n) => n > 0, 20000, 5);
    signal('shop-consumer-goods', 'SIGKILL');
    signal('shop-consumer-user', 'SIGKILL');
    const atKill = restored();
    t.diagnostic(`${orderIds.length} orders cancelled; ${atKill} restores done when the consumers were killed`);
    if (atKill >= orderIds.length)
      t.diagnostic('the goods consumer finished before the kill: the restart had nothing to redo');
    await sleep(300);
    await services(NORMAL, 'start', 'consumers');
  } finally {
    await services(NORMAL, 'restart', 'app');
  }
  await assertAllReversed(g, stockBefore, us, moneyBefore, coupons);
});

test('with the broker stopped, failing orders wait in the outbox and are reversed once it is back', async () => {
  const us = users.slice(4, 6);
  const g = newGoods(1000);
  const coupons = us.map((u) => newCoupon(u.id));
  for (const u of us) setMoney(u, '1000.00');
  const stockBefore = stock(g);
  const moneyBefore = balances(us);

  await services({ SHOP_FAULT_INJECT: 'after_balance' }, 'restart', 'app');
  let orderIds;
  try {
    const consumerPids = Object.fromEntries(['goods', 'user', 'coupon', 'order', 'relay']
      .map((c) => [c, pidOf(`shop-consumer-${c}`)]));
    await services(NORMAL, 'stop', 'mq');
    try {
      const answers = await failingOrders(g, us, coupons, 6, 4);
      orderIds = assertRefused(answers);
      const pending = sql(`SELECT msg_key, msg_status FROM trade_mq_producer_temp
        WHERE msg_tag = 'order.cancel' AND msg_key IN (${orderIds.join(',')})`);
      assert.equal(pending.length, orderIds.length, 'one outbox row per cancelled order');
      assert.ok(pending.every(([, s]) => s === '0'), 'all waiting (msg_status 0)');
      // Nothing is reversed while the broker is away.
      assert.ok(stock(g) < stockBefore, 'the stock is still reduced');
    } finally {
      await services(NORMAL, 'start', 'mq');
    }
    // The consumers and the relay lost the broker and come back by
    // themselves: the same processes, not restarted.
    for (const [name, pid] of Object.entries(consumerPids)) {
      let alive = true;
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
      assert.ok(alive, `${name} (pid ${pid}) survived the broker's absence`);
    }
  } finally {
    await services(NORMAL, 'restart', 'app');
  }
  const sent = await eventually(() => sql(`SELECT msg_status, COUNT(*) FROM trade_mq_producer_temp
      WHERE msg_tag = 'order.cancel' AND msg_key IN (${orderIds.join(',')}) GROUP BY msg_status`),
  (r) => r.length === 1 && r[0][0] === '1', 60000, 500);
  assert.deepEqual(sent, [['1', String(orderIds.length)]], 'the relay published every outbox row');
  await assertAllReversed(g, stockBefore, us, moneyBefore, coupons);
});

test('scaled out to two apps and two of each consumer, racing orders never oversell, reuse or overdraw', async (t) => {
  await services({ SHOP_INSTANCES: '2', SHOP_FAULT_INJECT: undefined }, 'restart', 'app', 'consumers');
  try {
    const upstream = readFileSync(join(runDir, 'nginx', 'shop.conf'), 'utf8');
    assert.match(upstream, /^\s*server unix:.*\/shop-app-2\.sock/m, 'nginx lists the second app');
    for (const name of ['shop-app', 'shop-app-2', 'shop-consumer-goods.2', 'shop-consumer-user.2'])
      assert.ok(pidOf(name) > 0, `${name} runs`);

    // 1. Stock: 12 buyers, 3 orders each at once, 10 units for sale.
    const gStock = newGoods(10);
    for (const u of users) setMoney(u, '1000.00');
    const moneyBefore = balances(users);
    const stockRace = await Promise.all(users.flatMap((u) => [0, 1, 2].map(() =>
      post('/api/orders', u, orderBody(gStock, 990, 1)))));
    // 2. A coupon: each of 4 buyers sends two orders with the same coupon at once.
    const gCoupon = newGoods(1000);
    const cus = users.slice(0, 4);
    const coupons = cus.map((u) => newCoupon(u.id));
    const couponRace = await Promise.all(cus.flatMap((u, k) => [0, 1].map(() =>
      post('/api/orders', u, orderBody(gCoupon, 990, 1, { couponId: coupons[k], couponCents: 500 })))));
    // 3. A balance: 4 buyers with 20.00 each send two orders of 19.90 at once.
    const gMoney = newGoods(1000);
    const mus = users.slice(4, 8);
    for (const u of mus) setMoney(u, '20.00');
    const moneyRace = await Promise.all(mus.flatMap((u) => [0, 1].map(() =>
      post('/api/orders', u, orderBody(gMoney, 990, 1)))));

    for (const a of [...stockRace, ...couponRace, ...moneyRace])
      assert.ok(a.status === 201 || a.status === 409, `201 or 409, not ${a.status}: ${a.text}`);

    // Stock: exactly 10 sold, never below zero.
    const sold = stockRace.filter((a) => a.status === 201);
    assert.equal(sold.length, 10, 'exactly the stock was sold');
    const s1 = await eventually(() => ({ stock: stock(gStock), st: statuses(gStock), bad: unreversed(gStock) }),
      (s) => s.bad.length === 0 && !s.st['0'], 30000, 300);
    assert.equal(s1.stock, 0, 'stock is 0, not negative');
    assert.equal(one(`SELECT COALESCE(SUM(goods_number), 0) FROM trade_order
      WHERE goods_id = ${gStock} AND order_status = 1`), '10');
    assert.equal(s1.st['1'], 10);
    assert.deepEqual(s1.bad, []);
    for (const a of stockRace.filter((x) => x.status === 409))
      assert.match(a.body.code, /^SHOP_(GOODS_NUM_NOT_ENOUGH|REDUCE_GOODS_NUM_FAIL)$/, a.text);

    // Coupon: used once, by the order that got it.
    for (const [k, c] of coupons.entries()) {
      const won = couponRace.slice(2 * k, 2 * k + 2).filter((a) => a.status === 201);
      assert.equal(won.length, 1, `coupon ${c}: exactly one order of two went through`);
      assert.deepEqual(sql(`SELECT is_used, order_id FROM trade_coupon WHERE coupon_id = ${c}`),
        [['1', won[0].body.order.order_id]]);
    }
    const s2 = await eventually(() => ({ stock: stock(gCoupon), bad: unreversed(gCoupon), st: statuses(gCoupon) }),
      (s) => s.bad.length === 0 && s.stock === 1000 - 4 && !s.st['0'], 30000, 300);
    assert.equal(s2.stock, 1000 - 4, 'the losers\' stock came back');
    assert.deepEqual(s2.bad, []);

    // Balance: one order of two paid, never below zero.
    for (const [k, u] of mus.entries()) {
      const won = moneyRace.slice(2 * k, 2 * k + 2).filter((a) => a.status === 201);
      assert.equal(won.length, 1, `${u.name}: exactly one of two orders paid`);
    }
    const s3 = await eventually(() => ({ money: balances(mus), bad: unreversed(gMoney), stock: stock(gMoney), st: statuses(gMoney) }),
      (s) => s.bad.length === 0 && s.stock === 1000 - 4 && !s.st['0'], 30000, 300);
    for (const u of mus) assert.equal(s3.money[u.id], '0.10', `${u.name}: 20.00 - 19.90`);
    assert.equal(s3.stock, 1000 - 4);
    assert.deepEqual(s3.bad, []);

    // Balances moved by exactly the confirmed orders (the balance-race
    // buyers were reset to 20.00 after moneyBefore was read: left out).
    const others = users.filter((u) => !mus.includes(u));
    const now = balances(others);
    const spent = others.reduce((sum, u) => sum + cents(moneyBefore[u.id]) - cents(now[u.id]), 0);
    const soldToOthers = stockRace.filter((a, i) => a.status === 201 &&
      others.includes(users[Math.floor(i / 3)])).length;
    const couponOrders = 4 * (1990 - 500);
    t.diagnostic(`spent ${money(spent)} by ${others.length} buyers`);
    assert.equal(spent, soldToOthers * 1990 + couponOrders, 'balances moved by the confirmed orders only');
    assert.ok(sql(`SELECT COUNT(*) FROM trade_user WHERE user_money < 0`)[0][0] === '0');
  } finally {
    await services(NORMAL, 'restart', 'app', 'consumers');
  }
  const conf = readFileSync(join(runDir, 'nginx', 'shop.conf'), 'utf8');
  assert.doesNotMatch(conf, /^\s*server unix:.*\/shop-app-2\.sock/m, 'back to one app behind nginx');
});
