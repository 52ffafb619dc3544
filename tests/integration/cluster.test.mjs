// Integration: the failure drills of a cluster (issue 13): three RabbitMQ
// nodes in one cluster, three MariaDB Galera nodes, two app instances behind
// the one nginx and two of each consumer (scripts/services with
// SHOP_CLUSTER=3; the shop's mq_hosts and db_hosts list every node, node 1
// first, and its queues are quorum queues):
//   1. kill -9 the RabbitMQ node that leads the pay queue during a run of
//      signed notifications: every notification answered `success` ends
//      paid exactly once, with its points once;
//   2. another writer changes the shop's goods rows on another Galera node
//      while orders come: the shop's transactions meet Galera's write
//      conflicts (a deadlock, at commit or at the next statement), retry
//      them, and the books balance;
//   3. kill -9 the Galera node that gets the writes (as `scripts/services
//      status` tells: node 1, the first of db_hosts) during a run of orders
//      with coupons and balance (compensation when a step fails): the books
//      balance (stock, balances, coupons), read on a surviving node;
//   4. stop one app instance: nginx sends the traffic to the other, and no
//      request after the switch fails;
//   5. every killed node started again (scripts/services node ... start, as
//      an operator would): it rejoins (Galera Synced in a cluster of 3, the
//      RabbitMQ node a running member) and catches up by itself: node 1
//      holds what was written while it was down.
// The tests run in this order, each leaving what it killed for the last.
//   node --test tests/integration/cluster.test.mjs
// Needs: SHOP_CLUSTER=3 scripts/services start all (scripts/test starts it
// with SHOP_PREORDER_TIMEOUT_S=5 so that a pre-order a killed step left
// expires within the test), the SHOP_* variables (<run>/test-env.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, buyer, newGoods, services, runDir, sleep, sqlAt, dbPort, eventually, pool,
  notify, underChaos, named, pause, byId, list, orderBooks, orderMix, payBooks, mainDb, route,
  notifiedOrders } from './shop.mjs';

const SETTLE_MS = 120000;
const nodePort = (k) => Number(dbPort) + k - 1;
const node = (svc, k, action) => services({}, 'node', svc, String(k), action);
const killed = { mq: [], db: [] };

// Node K of the RabbitMQ cluster from its name (node 1: SHOP_MQ_NODE,
// node K: NAME-K@HOST).
function mqNodeNumber(name) {
  const one = process.env.SHOP_MQ_NODE || 'shop@localhost';
  if (name === one) return 1;
  const m = new RegExp(`^${one.split('@')[0]}-(\\d+)@`).exec(name);
  assert.ok(m, `a node of the cluster: ${name}`);
  return Number(m[1]);
}

// The node that leads queue `name` (a quorum queue's leader; a classic
// queue's home node from its pid).
async function leaderOf(queue) {
  const out = await services({}, 'mqctl', '-q', 'list_queues', 'name', 'leader', 'pid');
  const row = out.split('\n').map((l) => l.split('\t')).find((r) => r[0] === queue);
  assert.ok(row, `queue ${queue} listed:\n${out}`);
  const leader = row[1] || /^<([^.]+@[^.]+)\./.exec(row[2])?.[1];
  return mqNodeNumber(leader);
}

// `scripts/services status` lines of the nodes: { 'db 1': '...', ... }.
async function nodeStatus() {
  const out = await services({}, 'status');
  const lines = {};
  for (const m of out.matchAll(/^services: ((?:db|mq|app) \d+) +(.*)$/gm)) lines[m[1]] = m[2];
  return lines;
}

let payRun;
let orderRun;

test('kill -9 the RabbitMQ node leading the pay queue while notifications come: every acknowledged one pays once, points once', async (t) => {
  const buyers = await pool(Array.from({ length: 4 }, () => () => buyer({ prefix: 'clusterpay' })), 2);
  const g = newGoods(100, 1234);
  const orders = await notifiedOrders(buyers, g, 1234, 16);
  const users = buyers.map((b) => b.id);
  const score0 = byId(sqlAt(nodePort(1), `SELECT user_id, user_score FROM trade_user
    WHERE user_id IN (${list(users)})`));
  const leader = await leaderOf('shop.pay');
  t.diagnostic(`shop.pay is led by mq node ${leader}`);

  // As the provider does: each notification again until it is acknowledged.
  const send = async (i) => {
    const o = orders[i % orders.length];
    const r = await notify(o.body);
    if (r.text === 'success') o.acked = true;
    return r;
  };
  const faults = [pause(500), named(`kill mq ${leader}`, () => node('mq', leader, 'kill')),
    pause(3000)];
  const answers = await underChaos(t, faults, send, { lanes: 4, min: 2 * orders.length });
  killed.mq.push(leader);
  const by = {};
  for (const a of answers) by[a.text] = (by[a.text] || 0) + 1;
  t.diagnostic(`${answers.length} notifications; answers ${JSON.stringify(by)}`);
  // The rest go through the surviving nodes, with nothing restarted.
  for (const o of orders.filter((x) => !x.acked)) {
    const r = await eventually(() => notify(o.body), (a) => a.text === 'success', 60000, 500);
    assert.equal(r.text, 'success', `order ${o.id}: acknowledged with one broker node down`);
    o.acked = true;
  }
  const settle = Date.now();
  let wrong = await eventually(() => payBooks(orders, users, score0, nodePort(1)),
    (w) => w.length === 0, SETTLE_MS, 1000);
  t.diagnostic(`settled in ${Date.now() - settle} ms`);
  assert.deepEqual(wrong, []);
  await sleep(2000); // nothing more arrives later (a redelivery)
  wrong = payBooks(orders, users, score0, nodePort(1));
  assert.deepEqual(wrong, []);
  payRun = { orders, users, score0 };
});

// The lines of the shop's logs (app and consumers) that name a deadlock,
// by file; since: an earlier call's answer (only the lines added after it).
function deadlockLines(since = {}) {
  const dir = join(runDir, 'logs');
  const out = {};
  for (const f of readdirSync(dir).filter((n) => /^shop-(app|consumer)/.test(n))) {
    out[f] = readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => /deadlock/i.test(l))
      .slice(since[f]?.length || 0);
  }
  return out;
}

test('another writer on another Galera node while orders come: the conflicts are retried, the books balance', async (t) => {
  const buyers = await pool(Array.from({ length: 4 }, () => () =>
    buyer({ money: 100000, coupons: [500, 500], prefix: 'clusterconflict' })), 2);
  const goods = [newGoods(40, 990), newGoods(40, 1490)];
  const prices = [990, 1490];
  const status = await nodeStatus();
  const writer = [1, 2, 3].find((k) => /gets the writes/.test(status[`db ${k}`] || ''));
  const other = [1, 2, 3].find((k) => k !== writer && /running/.test(status[`db ${k}`] || ''));
  assert.ok(writer && other, `a writer and another running node: ${JSON.stringify(status)}`);
  t.diagnostic(`the shop writes on db ${writer}; the other writer on db ${other}`);
  const { books: run, place } = orderMix({ buyers, goods, prices, port: nodePort(other) });
  const before = deadlockLines();
  // The same goods rows, changed on the other node all the time (--force:
  // the client goes on past its own conflicts).
  const otherWriter = spawn('mariadb', ['--force', '-h', '127.0.0.1', '-P', String(nodePort(other)),
    '-u', 'shop', '-pshop', mainDb], { stdio: ['pipe', 'ignore', 'pipe'] });
  let refused = '';
  otherWriter.stderr.on('data', (d) => { refused += d; });
  otherWriter.stdin.on('error', () => {}); // stopped below with writes pending
  const ended = new Promise((resolve) => otherWriter.on('close', resolve));
  for (let i = 0; i < 20000; i++) {
    otherWriter.stdin.write(`${route(`UPDATE trade_goods SET goods_desc = 'conflict ${i}'
      WHERE goods_id IN (${list(goods)})`)};\n`);
  }
  otherWriter.stdin.end();
  const answers = await underChaos(t, [pause(8000)], place, { lanes: 4, min: 40 });
  otherWriter.kill();
  await ended;
  const by = {};
  for (const a of answers) by[a.status] = (by[a.status] || 0) + 1;
  const met = Object.values(deadlockLines(before)).flat();
  t.diagnostic(`${answers.length} orders; answers ${JSON.stringify(by)}; ${met.length} deadlock lines in the shop's logs`);
  for (const l of met.slice(0, 5)) t.diagnostic(l);
  t.diagnostic(`the other writer was refused ${refused.split('\n').filter(Boolean).length} times`);
  assert.ok(met.length > 0, 'the shop met write conflicts');
  // Orders whose step met a conflict and was tried again: some went through.
  const retried = [...new Set(met.map((l) => / order (\d+) hit a deadlock/.exec(l)?.[1])
    .filter(Boolean))];
  const through = retried.length ? Number(sqlAt(nodePort(other), `SELECT COUNT(*) FROM trade_order
    WHERE order_id IN (${list(retried)}) AND order_status = 1`)[0][0]) : 0;
  t.diagnostic(`${retried.length} orders met a conflict in a step; ${through} of them confirmed`);
  assert.ok(through > 0, 'an order whose step met a conflict was confirmed on a later try');
  assert.ok(by[201] > 0, 'orders went through');
  assert.equal(by[500] || 0, 0, 'no internal error');
  const settle = Date.now();
  const books = () => orderBooks({ ...run, port: nodePort(other) });
  const wrong = await eventually(books, (w) => w.length === 0, SETTLE_MS, 1000);
  t.diagnostic(`settled in ${Date.now() - settle} ms`);
  assert.deepEqual(wrong, []);
});

test('kill -9 the Galera node that gets the writes while orders come: the books balance', async (t) => {
  const buyers = await pool(Array.from({ length: 6 }, () => () =>
    buyer({ money: 100000, coupons: [500, 500], prefix: 'clusterorder' })), 2);
  const goods = [newGoods(25, 990), newGoods(25, 1490), newGoods(30, 2990)];
  const prices = [990, 1490, 2990];
  const status = await nodeStatus();
  const writer = [1, 2, 3].find((k) => /gets the writes/.test(status[`db ${k}`] || ''));
  assert.ok(writer, `a node gets the writes: ${JSON.stringify(status)}`);
  const survivor = (writer % 3) + 1;
  t.diagnostic(`db node ${writer} gets the writes; the books are read on node ${survivor}`);
  // shop.mjs: orderMix.
  const { books: run, place } = orderMix({ buyers, goods, prices, port: nodePort(survivor) });
  const faults = [pause(1000), named(`kill db ${writer}`, () => node('db', writer, 'kill')),
    pause(4000)];
  const answers = await underChaos(t, faults, place, { lanes: 4, min: 30 });
  killed.db.push(writer);
  const by = {};
  for (const a of answers) by[a.status] = (by[a.status] || 0) + 1;
  t.diagnostic(`${answers.length} orders; answers ${JSON.stringify(by)}`);
  assert.ok(by[201] > 0, 'some orders went through');
  // Orders go on through the surviving nodes (i = 1: no coupon).
  const after = await eventually(() => place(1), (r) => r.status === 201, 30000, 500);
  assert.equal(after.status, 201, `an order with db node ${writer} down: ${after.text}`);

  const settle = Date.now();
  const books = () => orderBooks({ ...run, port: nodePort(survivor) });
  const wrong = await eventually(books, (w) => w.length === 0, SETTLE_MS, 1000);
  t.diagnostic(`settled in ${Date.now() - settle} ms`);
  assert.deepEqual(wrong, []);
  orderRun = run;
});

test('stop one app instance: nginx sends the traffic to the other, no request after the switch fails', async (t) => {
  const b = await buyer({ prefix: 'clusterapp' });
  const me = () => api('/api/me', { cookie: b.cookie })
    .then((r) => ({ status: r.res.status, text: r.text }));
  let stopped = false;
  const answers = [];
  const faults = [pause(500), named('stop app 1', async () => {
    await node('app', 1, 'stop');
    stopped = true;
  }), pause(2000)];
  await underChaos(t, faults, async (i) => {
    const after = stopped;
    const r = await me();
    answers[i] = { ...r, after };
    return r;
  }, { lanes: 4, min: 40 });
  const late = answers.filter((a) => a && a.after);
  t.diagnostic(`${answers.length} requests, ${late.length} after the stop`);
  assert.ok(late.length >= 10, 'requests after the stop');
  assert.deepEqual(late.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.text}`), []);
  const status = await nodeStatus();
  assert.match(status['app 1'] || 'stopped', /stopped/);
  assert.match(status['app 2'], /running/);
  await node('app', 1, 'start');
  assert.equal((await me()).status, 200);
});

test('every killed node started again rejoins its cluster and catches up by itself', async (t) => {
  for (const k of killed.mq) await node('mq', k, 'start');
  for (const k of killed.db) await node('db', k, 'start');
  const status = await eventually(nodeStatus, (s) =>
    [1, 2, 3].every((k) => /Synced, cluster size 3/.test(s[`db ${k}`] || '') &&
      (s[`mq ${k}`] || '').split('cluster members running: ')[1]?.split(' ').length === 3),
  60000, 2000);
  for (const k of [1, 2, 3]) {
    assert.match(status[`db ${k}`], /running .*Synced, cluster size 3/, `db ${k}`);
    assert.match(status[`mq ${k}`], /running .*cluster members running: \S+ \S+ \S+\)$/, `mq ${k}`);
  }
  // The clients write to one node (they stay where they failed over to).
  assert.equal([1, 2, 3].filter((k) => /gets the writes/.test(status[`db ${k}`])).length, 1);
  for (const [k, v] of Object.entries(status)) t.diagnostic(`${k}: ${v}`);
  // A restarted node holds what was written while it was down: the books
  // balance there too.
  for (const k of killed.db) {
    if (orderRun) assert.deepEqual(orderBooks({ ...orderRun, port: nodePort(k) }), [], `db ${k}`);
  }
  if (payRun) {
    assert.deepEqual(payBooks(payRun.orders, payRun.users, payRun.score0, nodePort(1)), []);
  }
  const q = 'SELECT COUNT(*), IFNULL(SUM(goods_number), 0) FROM trade_goods';
  for (const k of [2, 3]) {
    const rows = await eventually(() => sqlAt(nodePort(k), q),
      (r) => JSON.stringify(r) === JSON.stringify(sqlAt(nodePort(1), q)), 10000);
    assert.deepEqual(rows, sqlAt(nodePort(1), q), `db ${k} and db 1 agree`);
  }
});
