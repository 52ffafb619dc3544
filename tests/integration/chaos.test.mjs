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
import { buyer, newGoods, services, runDir, sleep, sql, count, eventually, pool, signal,
  notify, underChaos, named, pause, byId, list, orderBooks, orderMix,
  payBooks, notifiedOrders } from './shop.mjs';

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

const kill = (name) => named(`kill ${name}`, async () => {
  signal(name, 'SIGKILL');
  await sleep(400);
});
const start = (...what) => named(`start ${what}`, () => services(FAST, 'start', ...what));
const restart = (...what) => named(`restart ${what}`, () => services(FAST, 'restart', ...what));

test('ordering under SIGKILL of the app and every consumer and restarts of RabbitMQ and MariaDB: the books balance', async (t) => {
  await services(FAST, 'restart', 'app', 'consumers');
  // Registering hashes a password (argon2id): a few at a time.
  const buyers = await pool(Array.from({ length: 8 }, () => () =>
    buyer({ money: 100000, coupons: [500, 500], prefix: 'chaos' })), 3);
  const goods = [newGoods(25, 990), newGoods(25, 1490), newGoods(30, 2990)];
  const prices = [990, 1490, 2990];
  // Each buyer in turn (shop.mjs: orderMix).
  const { books: run, place } = orderMix({ buyers, goods, prices });
  const { users } = run;
  const faults = [pause(500), kill('shop-app'), start('app'), pause(1000)];
  for (const c of consumers()) faults.push(kill(`shop-consumer-${c}`), pause(300));
  faults.push(start('consumers'), pause(1000), restart('mq'), pause(1000), restart('db'),
    pause(1000), start('all'));
  const answers = await underChaos(t, faults, place, { lanes: 4, min: 40 });
  const by = {};
  for (const a of answers) by[a.status] = (by[a.status] || 0) + 1;
  t.diagnostic(`${answers.length} orders placed under chaos; answers ${JSON.stringify(by)}`);
  assert.ok(by[201] > 0, 'some orders went through');

  const books = () => orderBooks(run);
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
  const orders = await notifiedOrders(buyers, g, 1337, 16);
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

  const state = () => payBooks(orders, users, score0);
  const settle = Date.now();
  let wrong = await eventually(state, (w) => w.length === 0, 90000, 1000);
  t.diagnostic(`settled in ${Date.now() - settle} ms`);
  assert.deepEqual(wrong, []);
  // Once: nothing more arrives later (a redelivery, the relay).
  await sleep(2000);
  wrong = state();
  assert.deepEqual(wrong, []);
});
