// Integration: the goods and coupon consumers reverse an order's steps on
// order.cancel, at most once, and only the steps that happened. Rows are set
// up by SQL, events published by hand with shop-admin, effects read back by
// SQL. Needs the services of scripts/services with the consumers goods and
// coupon running:
//   node --test tests/integration/compensation.test.mjs
// Its goods, coupons and orders are its own (fresh ids, a user id no demo
// user has) and are deleted at the end; while it runs its goods are in the
// catalogue.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { newGoods, runDir, sql, publish, eventually } from './shop.mjs';

// The lines a consumer logged about one order ("goods: ... order 123 ...").
function consumerLines(name, orderId) {
  const f = join(runDir, 'logs', `shop-consumer-${name}.log`);
  if (!existsSync(f)) return [];
  const re = new RegExp(`\\b${name}: .*\\border ${orderId}\\b`);
  return readFileSync(f, 'utf8').split('\n').filter((l) => re.test(l));
}

// Ids no earlier run used: snowflake-sized, from the clock.
let seq = 0;
function freshId() {
  seq += 1;
  return String(BigInt(Date.now()) * 1000000n + BigInt(process.pid % 1000) * 1000n + BigInt(seq));
}
// Goods and coupon ids stay small (they are not snowflakes in the demo data).
function freshSmallId() {
  seq += 1;
  return String(900000000 + (Date.now() % 10000000) * 10 + seq);
}

// Not a demo user: the coupons made here never show up in anyone's list.
const userId = freshSmallId();

function cancelBody(orderId, goodsId, goodsNumber, couponId) {
  return {
    order_id: orderId, user_id: userId, goods_id: String(goodsId), goods_number: goodsNumber,
    coupon_id: couponId, money_paid: '0.00', reason: 'SHOP_USER_MONEY_REDUCE_FAIL',
  };
}

const stock = (g) => Number(sql(`SELECT goods_number FROM trade_goods WHERE goods_id = ${g}`)[0][0]);
const logRows = (g, o, dir) => Number(sql(`SELECT COUNT(*) FROM trade_goods_number_log
  WHERE goods_id = ${g} AND order_id = ${o} AND direction = ${dir}`)[0][0]);
const coupon = (c) => sql(`SELECT is_used, IFNULL(order_id, 'NULL'), IFNULL(used_time, 'NULL')
  FROM trade_coupon WHERE coupon_id = ${c}`)[0];
const consumerRows = (group, o) => Number(sql(`SELECT COUNT(*) FROM trade_mq_consumer_log
  WHERE group_name = '${group}' AND msg_tag = 'order.cancel' AND msg_key = '${o}'`)[0][0]);

// What the tests made, removed at the end (the goods by shop.mjs).
const made = { coupons: [], orders: [] };

after(() => {
  const list = (a) => (a.length ? a.join(', ') : '0');
  const orders = made.orders.map((o) => `'${o}'`);
  sql(`DELETE FROM trade_coupon WHERE coupon_id IN (${list(made.coupons)});
       DELETE FROM trade_mq_consumer_log WHERE group_name IN ('goods', 'coupon')
         AND msg_tag = 'order.cancel' AND msg_key IN (${orders.length ? orders.join(', ') : "''"})`);
});

function newOrder() {
  const o = freshId();
  made.orders.push(o);
  return o;
}

function newCoupon(usedBy) {
  const c = freshSmallId();
  made.coupons.push(c);
  if (usedBy) {
    sql(`INSERT INTO trade_coupon (coupon_id, coupon_price, user_id, order_id, is_used, used_time)
         VALUES (${c}, 10.00, ${userId}, ${usedBy}, 1, UTC_TIMESTAMP(3))`);
  } else {
    sql(`INSERT INTO trade_coupon (coupon_id, coupon_price, user_id, is_used)
         VALUES (${c}, 10.00, ${userId}, 0)`);
  }
  return c;
}

test('order.cancel restores stock and frees the coupon exactly once, however often it comes', async () => {
  const g = newGoods(10, 350);
  const o = newOrder();
  // What steps 3 and 4 of the saga leave behind: 3 units reduced, coupon used.
  sql(`UPDATE trade_goods SET goods_number = goods_number - 3 WHERE goods_id = ${g};
       INSERT INTO trade_goods_number_log (goods_id, order_id, direction, goods_number, log_time)
       VALUES (${g}, ${o}, 1, 3, UTC_TIMESTAMP(3))`);
  const c = newCoupon(o);
  assert.equal(stock(g), 7);

  const body = cancelBody(o, g, 3, c);
  publish('order.cancel', `order.cancel:${o}`, body);
  publish('order.cancel', `order.cancel:${o}`, body); // a redelivery
  publish('order.cancel', `order.cancel:${o}:again`, body); // another publisher, same order

  // Wait until each consumer has seen all three messages.
  const goodsSeen = await eventually(() => consumerLines('goods', o), (l) => l.length >= 3);
  const couponSeen = await eventually(() => consumerLines('coupon', o), (l) => l.length >= 3);
  assert.equal(goodsSeen.length, 3, `goods consumer handled 3 messages:\n${goodsSeen.join('\n')}`);
  assert.equal(couponSeen.length, 3, `coupon consumer handled 3 messages:\n${couponSeen.join('\n')}`);
  assert.equal(goodsSeen.filter((l) => l.includes(`restored 3 of goods ${g}`)).length, 1);
  assert.equal(couponSeen.filter((l) => l.includes(`freed coupon ${c}`)).length, 1);

  assert.equal(stock(g), 10, 'stock back to the original, not beyond');
  assert.equal(logRows(g, o, 1), 1);
  assert.equal(logRows(g, o, 2), 1, 'one restore row');
  assert.deepEqual(coupon(c), ['0', 'NULL', 'NULL'], 'coupon unused again');
  assert.equal(consumerRows('goods', o), 1);
  assert.equal(consumerRows('coupon', o), 1);
});

test('a cancel for an order that reduced nothing restores nothing but leaves the tombstone', async () => {
  const g = newGoods(5, 350);
  const o = newOrder();
  publish('order.cancel', `order.cancel:${o}`, cancelBody(o, g, 2, null));

  const rows = await eventually(() => [consumerRows('goods', o), consumerRows('coupon', o)],
    ([a, b]) => a === 1 && b === 1);
  assert.deepEqual(rows, [1, 1], 'both consumers recorded the cancel (the tombstone)');
  assert.equal(stock(g), 5, 'no stock appeared');
  assert.equal(logRows(g, o, 1), 0);
  assert.equal(logRows(g, o, 2), 0, 'no restore row without a reduce row');
  const lines = await eventually(() => consumerLines('goods', o), (l) => l.length >= 1);
  assert.match(lines.join('\n'), /nothing to restore/);
  assert.match(consumerLines('coupon', o).join('\n'), /no coupon: nothing to free/);
  // The tombstone is what a late goods_reduce_stock / coupon_use of this
  // order reads (a locking read) and obeys: the order tests drive that path.
});

test('a coupon used by another order is not freed by this order\'s cancel', async () => {
  const g = newGoods(4, 350);
  const o = newOrder();
  const other = newOrder();
  const c = newCoupon(other);
  const before = coupon(c);
  publish('order.cancel', `order.cancel:${o}`, cancelBody(o, g, 1, c));

  const lines = await eventually(() => consumerLines('coupon', o), (l) => l.length >= 1);
  assert.match(lines.join('\n'), new RegExp(`coupon ${c} is not used by order ${o}: nothing to free`));
  assert.equal(consumerRows('coupon', o), 1);
  assert.deepEqual(coupon(c), before, 'still used by the other order');
  assert.equal(coupon(c)[1], other);

  // An unused coupon named by a cancel stays unused (nothing to reverse).
  const free = newCoupon(null);
  const o2 = newOrder();
  publish('order.cancel', `order.cancel:${o2}`, cancelBody(o2, g, 1, free));
  await eventually(() => consumerRows('coupon', o2), (n) => n === 1);
  assert.equal(consumerRows('coupon', o2), 1);
  assert.deepEqual(coupon(free), ['0', 'NULL', 'NULL']);
  assert.equal(stock(g), 4);
});

test('a body that is not an order.cancel is parked, not retried into effects', async () => {
  const o = newOrder();
  // order_id as a number is refused by the parser.
  publish('order.cancel', `order.cancel:${o}`, `{"order_id":${o},"goods_id":"1001"}`);
  const seen = (name) => {
    const f = join(runDir, 'logs', `shop-consumer-${name}.log`);
    return existsSync(f) && readFileSync(f, 'utf8').includes(`message order.cancel:${o} is not an order.cancel: parked`);
  };
  assert.ok(await eventually(() => seen('goods'), (v) => v), 'goods parked it');
  assert.ok(await eventually(() => seen('coupon'), (v) => v), 'coupon parked it');
  assert.equal(consumerRows('goods', o), 0);
  assert.equal(consumerRows('coupon', o), 0);
});
