// Metrics (../shared/CONTRACT.md, "Operators"): GET /metrics in the Prometheus
// text format on nginx's metrics listener (127.0.0.1, SHOP_METRICS_PORT),
// every family the contract names present, and moving when it should: an
// order raises shop_http_requests_total{route="/api/orders",status="201"},
// a notification shop_notify_total, the consumers' deliveries their counters
// (merged from the files they write), and the broker's queue depths show.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, base, buyer, eventually, form, newGoods, notification, notify, orderBody, port,
  publish, repo, signed } from './shop.mjs';

const metricsPort = process.env.SHOP_METRICS_PORT || String(Number(port) + 1000);
const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;

const FAMILIES = ['shop_http_requests_total', 'shop_http_request_duration_seconds',
  'shop_notify_total', 'shop_publish_confirm_seconds', 'shop_outbox_pending',
  'shop_queue_messages', 'shop_queue_parked', 'shop_consumer_messages_total', 'shop_up'];

async function scrape() {
  const res = await fetch(metricsUrl);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return res.text();
}

// The value of the first sample of name whose labels include every pair of
// want (label order does not matter); summed over the processes that have it.
function value(text, name, want = {}) {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)]
      .map((m) => [m[1], m[2]]));
    if (Object.entries(want).every(([k, v]) => labels[k] === v)) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      found = true;
    }
  }
  return found ? sum : null;
}

test('GET /metrics lists every family of the contract, each once, in the text format', async () => {
  const text = await scrape();
  for (const f of FAMILIES) {
    const types = text.split('\n').filter((l) => l.startsWith(`# TYPE ${f} `));
    assert.equal(types.length, 1, `one TYPE line for ${f}`);
  }
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    // name{k="v",...} value; a value may hold braces (route="/goods/{id}").
    assert.match(line, /^[a-z_]+(\{[a-z_]+="(?:[^"\\]|\\.)*"(?:,[a-z_]+="(?:[^"\\]|\\.)*")*\})? -?[0-9.e+]+$/,
      `a sample line: ${line}`);
  }
  assert.equal(value(text, 'shop_up', { dependency: 'database' }), 1);
  assert.equal(value(text, 'shop_up', { dependency: 'broker' }), 1);
  assert.notEqual(value(text, 'shop_queue_messages', { queue: 'shop.order' }), null);
  assert.notEqual(value(text, 'shop_queue_parked', { queue: 'shop.pay' }), null);
  assert.notEqual(value(text, 'shop_outbox_pending'), null);
});

test('/metrics is not on the public site', async () => {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 404);
  await res.text();
  const forged = await fetch(`${base}/metrics`, { headers: { 'shop-listener': 'metrics' } });
  assert.equal(forged.status, 404);
  await forged.text();
});

test('an order raises the 201 count of /api/orders, its duration and a publish confirm', async () => {
  const before = await scrape();
  const route = { route: '/api/orders', status: '201' };
  const was = value(before, 'shop_http_requests_total', route) ?? 0;
  const confirms = value(before, 'shop_publish_confirm_seconds_count') ?? 0;
  const b = await buyer();
  const g = newGoods(5, 990);
  // Nothing from the balance: the order waits for payment, and the saga
  // publishes its unpaid-order expiry check with a confirm.
  const r = await api('/api/orders', { method: 'POST', body: orderBody(g, 990, 1, { pay: 0 }),
    cookie: b.cookie, csrf: b.csrf, headers: { 'idempotency-key': `metrics-${g}` } });
  assert.equal(r.res.status, 201, r.text);
  const after = await scrape();
  assert.equal(value(after, 'shop_http_requests_total', route), was + 1);
  assert.ok(value(after, 'shop_http_request_duration_seconds_count', { route: '/api/orders' }) >= 1);
  assert.ok(value(after, 'shop_publish_confirm_seconds_count') > confirms,
    'the saga published the unpaid check with a confirm');
});

test('a notification raises shop_notify_total, and the consumers\' deliveries show', async () => {
  const before = await scrape();
  const refused = value(before, 'shop_notify_total', { result: 'refused' }) ?? 0;
  const bad = signed(notification('123456789', '1.00'));
  bad.total_amount = '2.00'; // the signature no longer matches
  const res = await notify(form(bad));
  assert.equal(res.text, 'fail');
  const after = await scrape();
  assert.equal(value(after, 'shop_notify_total', { result: 'refused' }), refused + 1);
});

test('a consumer\'s deliveries raise its counter (written by the consumer, merged by the app)', async () => {
  const audit = { consumer: 'shop.audit', result: 'acked' };
  const before = value(await scrape(), 'shop_consumer_messages_total', audit) ?? 0;
  // A message only the audit consumer (bound to every key) takes.
  await publish('metrics.test', `metrics.test:${Date.now()}`, '{"test":"metrics"}');
  // The consumers write their series every few seconds; the app merges them.
  await eventually(scrape, (t) => value(t, 'shop_up', { dependency: 'consumer:audit.1' }) === 1 &&
    value(t, 'shop_consumer_messages_total', audit) > before, 20000);
});

test('the dashboard and alert examples in deploy/ name only families the app exposes', async () => {
  const text = await scrape();
  const exposed = new Set(text.split('\n').filter((l) => l.startsWith('# TYPE '))
    .map((l) => l.split(' ')[2]));
  for (const file of ['grafana-dashboard.json', 'shop-alerts.yml']) {
    const names = readFileSync(join(repo, 'deploy', file), 'utf8').match(/shop_[a-z_]+/g);
    assert.ok(names.length > 3, `${file} has queries`);
    for (const n of names) {
      const family = n.replace(/_(bucket|sum|count)$/, '');
      assert.ok(exposed.has(n) || exposed.has(family), `${file}: ${n} is exposed`);
    }
  }
});
