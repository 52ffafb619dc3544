// Integration: the walking skeleton through the real nginx, FastCGI app,
// MariaDB and RabbitMQ started by scripts/services. Run by scripts/test:
//   node --test tests/integration/http.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { services, runDir, binDir, base, sleep, sql, eventually } from './shop.mjs';

async function getJson(path, init) {
  const res = await fetch(base + path, init);
  const body = await res.json();
  return { res, body };
}

const SECURITY = ['x-content-type-options', 'x-frame-options', 'content-security-policy',
  'referrer-policy'];

test('the catalogue page lists every goods of the database, through nginx', async () => {
  const res = await fetch(base + '/');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  for (const h of SECURITY) assert.ok(res.headers.get(h), `missing ${h}`);
  const html = await res.text();
  const rows = sql('SELECT goods_id, goods_name, goods_price FROM trade_goods');
  assert.ok(rows.length >= 6, 'demo goods are loaded');
  for (const [id, name, price] of rows) {
    const esc = name.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
    assert.ok(html.includes(esc), `page lists ${name}`);
    assert.ok(html.includes(`href="/goods/${id}"`), `page links goods ${id}`);
    assert.ok(html.includes(price), `page shows price ${price}`);
  }
  assert.match(html, /<link rel="stylesheet" href="\/static\/style.css">/);
  assert.match(html, /Only \d+ left/, 'the goods with small stock is flagged');
});

test('the stylesheet is served by nginx as CSS', async () => {
  const res = await fetch(base + '/static/style.css');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/css/);
  assert.ok((await res.text()).length > 500);
});

test('GET /api/goods returns the catalogue as the contract says', async () => {
  // Paged by cursor: following next from the first page gives every goods once, in id order.
  const goods = [];
  let next = null;
  do {
    const { res, body } = await getJson('/api/goods' + (next === null ? '' : `?after=${encodeURIComponent(next)}`));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assert.equal(body.success, true);
    assert.ok(body.goods.length <= 20, 'a page holds at most the default limit');
    assert.ok(body.next === null || typeof body.next === 'string', 'next is a string or null');
    goods.push(...body.goods);
    next = body.next;
  } while (next !== null);
  const rows = sql('SELECT goods_id, goods_name, goods_number, goods_price FROM trade_goods ORDER BY goods_id');
  assert.equal(goods.length, rows.length);
  goods.forEach((g, i) => {
    assert.equal(typeof g.goods_id, 'string', 'ids are strings');
    assert.equal(g.goods_id, rows[i][0]);
    assert.equal(g.goods_name, rows[i][1]);
    assert.equal(g.goods_number, Number(rows[i][2]));
    assert.equal(g.goods_price, rows[i][3]);
    assert.match(g.goods_price, /^\d+\.\d\d$/, 'money has two decimals');
    assert.match(g.add_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'times are ISO 8601 UTC');
  });
});

test('GET /api/goods/{id}: one goods, or a 404 with the code', async () => {
  const [[id, name, price]] = sql('SELECT goods_id, goods_name, goods_price FROM trade_goods ORDER BY goods_price DESC LIMIT 1');
  let { res, body } = await getJson(`/api/goods/${id}`);
  assert.equal(res.status, 200);
  assert.equal(body.goods.goods_id, id);
  assert.equal(body.goods.goods_name, name);
  assert.equal(body.goods.goods_price, price);

  ({ res, body } = await getJson('/api/goods/999999999999'));
  assert.equal(res.status, 404);
  assert.deepEqual(Object.keys(body).sort(), ['code', 'message', 'success']);
  assert.equal(body.success, false);
  assert.equal(body.code, 'SHOP_GOODS_NO_EXIST');

  ({ res, body } = await getJson('/api/goods/abc'));
  assert.equal(res.status, 404);
  assert.equal(body.code, 'SHOP_NOT_FOUND');
});

test('the goods page shows one goods; an unknown one is a 404 page', async () => {
  const [[id, name]] = sql('SELECT goods_id, goods_name FROM trade_goods LIMIT 1');
  let res = await fetch(`${base}/goods/${id}`);
  assert.equal(res.status, 200);
  assert.ok((await res.text()).includes(name));
  res = await fetch(`${base}/goods/999999999999`);
  assert.equal(res.status, 404);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  assert.match(await res.text(), /Back to the catalogue/);
});

test('unknown paths and methods get a 404/405, as a page or as JSON', async () => {
  let res = await fetch(base + '/no/such/page');
  assert.equal(res.status, 404);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  let { res: r2, body } = await getJson('/api/nothing');
  assert.equal(r2.status, 404);
  assert.equal(body.code, 'SHOP_NOT_FOUND');
  ({ res: r2, body } = await getJson('/api/goods', { method: 'DELETE' }));
  assert.equal(r2.status, 405);
  assert.equal(body.code, 'SHOP_METHOD_NOT_ALLOWED');
  res = await fetch(base + '/', { method: 'HEAD' });
  assert.equal(res.status, 200);
  assert.equal((await res.text()).length, 0);
});

test('bad input never crashes the worker', async () => {
  const bad = ['/%zz', '/goods/%00', '/api/goods/1%', '/' + 'a'.repeat(3000),
    '/api/goods/99999999999999999999999'];
  for (const p of bad) {
    const res = await fetch(base + p);
    assert.ok(res.status >= 400 && res.status < 500, `${p} -> ${res.status}`);
    await res.arrayBuffer();
  }
  const big = await fetch(base + '/api/goods', { method: 'POST', body: 'x'.repeat(200 * 1024),
    headers: { 'content-type': 'application/json' } });
  assert.equal(big.status, 413);
  assert.match(big.headers.get('content-type'), /^application\/json/);
  assert.equal((await big.json()).code, 'SHOP_REQUEST_TOO_LARGE');
  // Still serving, every worker.
  const all = await Promise.all(Array.from({ length: 64 }, () => fetch(base + '/api/goods')));
  for (const r of all) { assert.equal(r.status, 200); await r.arrayBuffer(); }
});

test('/healthz is 200 with both up, 503 while RabbitMQ is stopped, 200 again after', async () => {
  let { res, body } = await getJson('/healthz');
  assert.equal(res.status, 200);
  assert.equal(body.database, 'up');
  assert.equal(body.broker, 'up');
  await services({}, 'stop', 'mq');
  try {
    ({ res, body } = await getJson('/healthz'));
    assert.equal(res.status, 503);
    assert.equal(body.broker, 'down');
    assert.equal(body.database, 'up');
  } finally {
    await services({}, 'start', 'mq');
  }
  const last = await eventually(() => getJson('/healthz'), (r) => r.res.status === 200);
  assert.equal(last.res.status, 200);
  assert.equal(last.body.broker, 'up');
});

test('the app keeps serving after MariaDB restarts', async () => {
  let r = await getJson('/api/goods');
  assert.equal(r.res.status, 200);
  const before = r.body.goods.length;
  await services({}, 'restart', 'db');
  // The first request after the restart may find its connection gone; the
  // app reconnects, so every request answers from the database again.
  r = await eventually(() => getJson('/api/goods'), (x) => x.res.status === 200, 10000, 500);
  assert.equal(r.res.status, 200);
  assert.equal(r.body.goods.length, before);
  const all = await Promise.all(Array.from({ length: 40 }, () => getJson('/api/goods')));
  for (const x of all) assert.equal(x.res.status, 200);
  const h = await getJson('/healthz');
  assert.equal(h.body.database, 'up');
});

test('the audit consumer records an event once, however often it is delivered', async () => {
  const id = `itest-${process.pid}-${Date.now()}`;
  const body = JSON.stringify({ event: 'itest.ping', id });
  const admin = join(binDir, 'shop-admin');
  const conf = join(runDir, 'shop.conf');
  for (let i = 0; i < 3; i++)
    execFileSync(admin, ['--config', conf, 'publish', 'itest.ping', id, body], { env: process.env });
  const rows = await eventually(
    () => sql(`SELECT msg_tag, msg_key, msg_body, consumer_status FROM trade_mq_consumer_log WHERE group_name='audit' AND msg_key='${id}'`),
    (r) => r.length > 0);
  await sleep(1000); // give the two duplicates time to arrive
  const again = sql(`SELECT COUNT(*) FROM trade_mq_consumer_log WHERE group_name='audit' AND msg_key='${id}'`);
  assert.equal(rows.length, 1);
  assert.equal(again[0][0], '1');
  assert.equal(rows[0][0], 'itest.ping');
  assert.equal(JSON.parse(rows[0][2]).id, id);
  assert.equal(rows[0][3], '1');
});
