// Integration: the payment provider sandbox (shop-sandbox) on its own.
//
// Self-contained: it makes keys with scripts/keys in a temporary directory,
// starts shop-sandbox there and a private nginx rendering nginx/sandbox.conf
// on a free port, and plays the merchant itself: it signs page-pay requests
// with node's crypto (an implementation independent of src/alipay.c) and
// serves the notify URL from a small HTTP server. It needs nothing from
// scripts/services, so it runs the same with or without the shop started.
//   node --test tests/integration/sandbox.test.mjs
// Needs: the built shop-sandbox (SHOP_SANDBOX_BIN, default
// SHOP_BIN_DIR/../sandbox/shop-sandbox, SHOP_BIN_DIR default build/src),
// nginx, openssl.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const binDir = process.env.SHOP_BIN_DIR || join(repo, 'build', 'src');
const sandboxBin = process.env.SHOP_SANDBOX_BIN || join(binDir, '..', 'sandbox', 'shop-sandbox');
const APP_ID = '2026000000000001';
const SELLER_ID = '2088000000000001';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function eventually(check, what, timeoutMs = 15000, stepMs = 50) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${logs()}`);
    await sleep(stepMs);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// --- Alipay's signing rules, written again in JavaScript -----------------

// Sorted k=v of the non-empty values, without `sign` (and, for notifications
// and returns, without `sign_type`).
function signingString(params, { keepSignType }) {
  return Object.keys(params)
    .filter((k) => k !== 'sign' && (keepSignType || k !== 'sign_type') && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

function rsa2Sign(str, privatePem) {
  return crypto.sign('RSA-SHA256', Buffer.from(str, 'utf8'), privatePem).toString('base64');
}

function rsa2Verify(params, publicPem) {
  if (params.sign_type !== 'RSA2' || !params.sign) return false;
  return crypto.verify('RSA-SHA256', Buffer.from(signingString(params, { keepSignType: false })),
    publicPem, Buffer.from(params.sign, 'base64'));
}

function formToObject(text) {
  const o = {};
  for (const [k, v] of new URLSearchParams(text)) {
    assert.ok(!(k in o), `duplicate ${k}`);
    o[k] = v;
  }
  return o;
}

// --- the environment -------------------------------------------------------

let dir; // the temporary run directory
let port; // nginx
let nginx; // child process
let sandbox; // child process
let sandboxLog = '';
let nginxLog = '';
let notifyServer;
let notifyPort;
let keys;
const received = []; // notifications: { outTradeNo, params, raw, answer }
const answers = new Map(); // out_trade_no -> list of answers to give in turn

function logs() {
  return `--- shop-sandbox output ---\n${sandboxLog.slice(-4000)}\n--- nginx ---\n` +
    `${nginxLog.slice(-2000)}`;
}

function startSandbox(timeScale, { hooks = true } = {}) {
  sandboxLog += `=== start, time scale ${timeScale}${hooks ? ', test hooks' : ''}\n`;
  const child = spawn(sandboxBin, [
    '--socket', join(dir, 'sock', 'shop-sandbox.sock'),
    '--pid-file', join(dir, 'shop-sandbox.pid'),
    '--state-dir', join(dir, 'sandbox'),
    '--merchant-public-key', join(dir, 'keys', 'merchant_public.pem'),
    '--provider-private-key', join(dir, 'keys', 'provider_private.pem'),
    '--app-id', APP_ID, '--seller-id', SELLER_ID,
    '--time-scale', String(timeScale), '--threads', '4', ...(hooks ? ['--test-hooks'] : []),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d) => { sandboxLog += d; });
  child.stderr.on('data', (d) => { sandboxLog += d; });
  child.exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })));
  return child;
}

async function sandboxReady() {
  await eventually(async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      return res.status === 200;
    } catch {
      return false;
    }
  }, 'the sandbox to answer through nginx');
}

async function stopSandbox(signal = 'SIGTERM') {
  if (!sandbox) return null;
  const child = sandbox;
  sandbox = null;
  child.kill(signal);
  let timer;
  const res = await Promise.race([child.exited,
    new Promise((r) => { timer = setTimeout(() => r(null), 15000); })]);
  clearTimeout(timer);
  if (res === null) {
    child.kill('SIGKILL');
    throw new Error(`shop-sandbox did not stop on ${signal}\n${logs()}`);
  }
  return res;
}

before(async () => {
  if (!fs.existsSync(sandboxBin)) {
    throw new Error(`${sandboxBin} not found: build first (make) or set SHOP_SANDBOX_BIN`);
  }
  dir = fs.mkdtempSync(join(os.tmpdir(), 'sbx-'));
  // Private to this user; nginx's workers run as this user too (as
  // scripts/services runs them), so the sandbox's 0660 socket is theirs.
  for (const d of ['sock', 'nginx', 'logs']) fs.mkdirSync(join(dir, d), { mode: 0o700 });
  execFileSync(join(repo, 'scripts', 'keys'), [join(dir, 'keys')], { stdio: 'ignore' });
  keys = Object.fromEntries(['merchant_private', 'merchant_public', 'provider_private',
    'provider_public'].map((k) => [k, fs.readFileSync(join(dir, 'keys', `${k}.pem`), 'utf8')]));

  // The notify URL: answers each notification from the list set for its order
// (a function answers on the raw socket).
  notifyServer = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      const params = formToObject(raw);
      const list = answers.get(params.out_trade_no) || [];
      const answer = list.length > 1 ? list.shift() : (list[0] ?? 'success');
      received.push({ outTradeNo: params.out_trade_no, params, raw, answer,
        contentType: req.headers['content-type'], at: Date.now() });
      if (typeof answer === 'function') {
        answer(res.socket); // a raw answer, written by the test itself
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(answer);
    });
  });
  await new Promise((r) => notifyServer.listen(0, '127.0.0.1', r));
  notifyPort = notifyServer.address().port;

  port = await freePort();
  const site = fs.readFileSync(join(repo, 'nginx', 'sandbox.conf'), 'utf8')
    .replaceAll('@RUN_DIR@', dir).replaceAll('@SANDBOX_PORT@', String(port));
  assert.ok(!/@[A-Z_]+@/.test(site), 'every placeholder of nginx/sandbox.conf is rendered');
  fs.writeFileSync(join(dir, 'nginx', 'sandbox.conf'), site);
  const n = join(dir, 'nginx');
  const user = process.getuid() === 0
    ? `user ${os.userInfo().username} ${execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim()};\n` : '';
  fs.writeFileSync(join(n, 'nginx.conf'), `daemon off;
${user}worker_processes 1;
pid ${n}/nginx.pid;
error_log ${dir}/logs/nginx-error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${n}/client_body_temp;
    proxy_temp_path ${n}/proxy_temp;
    fastcgi_temp_path ${n}/fastcgi_temp;
    uwsgi_temp_path ${n}/uwsgi_temp;
    scgi_temp_path ${n}/scgi_temp;
    include ${n}/sandbox.conf;
}
`);
  nginx = spawn('nginx', ['-c', join(n, 'nginx.conf'), '-p', `${n}/`, '-e',
    join(dir, 'logs', 'nginx-error.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
  nginx.stdout.on('data', (d) => { nginxLog += d; });
  nginx.stderr.on('data', (d) => { nginxLog += d; });
  nginx.on('error', (e) => { nginxLog += `spawn nginx: ${e.message}\n`; });

  sandbox = startSandbox(0.001);
  await sandboxReady();
});

after(async () => {
  if (sandbox) await stopSandbox('SIGTERM').catch(() => {});
  if (nginx) {
    nginx.kill('SIGQUIT');
    await new Promise((r) => {
      if (nginx.exitCode !== null || nginx.signalCode !== null) r();
      nginx.on('exit', r);
      setTimeout(r, 3000).unref();
    });
  }
  if (notifyServer) await new Promise((r) => notifyServer.close(r));
  if (dir && !process.env.KEEP_SANDBOX_TEST_DIR) fs.rmSync(dir, { recursive: true, force: true });
});

// --- the merchant's side ---------------------------------------------------

let orderSeq = 0;
function newOrder(extra = {}) {
  orderSeq += 1;
  return {
    outTradeNo: `${Date.now()}${orderSeq}`,
    subject: `Order #${orderSeq}: "tea" <b>&</b> cups / 红茶`,
    amount: '88.00',
    ...extra,
  };
}

const returnUrl = () => `http://127.0.0.1:${notifyPort}/pay/return/alipay?from=sandbox`;
const notifyUrl = () => `http://127.0.0.1:${notifyPort}/pay/notify/alipay`;

// The signed page-pay URL, as the shop builds it; `tamper` changes params
// after signing.
function gatewayUrl(order, { key = keys.merchant_private, tamper, appId = APP_ID,
  at = new Date() } = {}) {
  const biz = { out_trade_no: order.outTradeNo, product_code: 'FAST_INSTANT_TRADE_PAY',
    total_amount: order.amount, subject: order.subject };
  if (order.timeExpire) biz.time_expire = order.timeExpire;
  const params = {
    app_id: appId, method: 'alipay.trade.page.pay', format: 'JSON', charset: 'utf-8',
    sign_type: 'RSA2', timestamp: at.toISOString().slice(0, 19).replace('T', ' '),
    version: '1.0', notify_url: notifyUrl(), return_url: returnUrl(),
    biz_content: JSON.stringify(biz),
  };
  params.sign = rsa2Sign(signingString(params, { keepSignType: true }), key);
  if (tamper) tamper(params);
  return `http://127.0.0.1:${port}/gateway.do?${new URLSearchParams(params)}`;
}

async function openCashier(order) {
  const res = await fetch(gatewayUrl(order));
  const html = await res.text();
  assert.equal(res.status, 200, html);
  const m = html.match(/name="trade" value="([0-9a-f]{32})"/);
  assert.ok(m, 'the cashier carries a trade id');
  return { res, html, trade: m[1] };
}

function post(path, form) {
  return fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST', redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

const pendingFiles = () => fs.readdirSync(join(dir, 'sandbox', 'pending'))
  .filter((f) => f.endsWith('.json'));
const notificationsFor = (o) => received.filter((r) => r.outTradeNo === o.outTradeNo);

// --- tests ------------------------------------------------------------------

test('the cashier shows merchant, subject and amount of a correctly signed request', async () => {
  const order = newOrder();
  const { res, html } = await openCashier(order);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  for (const h of ['x-content-type-options', 'x-frame-options', 'content-security-policy']) {
    assert.ok(res.headers.get(h), `missing ${h}`);
  }
  // The forms redirect to the merchant: form-action must allow its origin.
  assert.match(res.headers.get('content-security-policy'),
    new RegExp(`form-action 'self' http://127\\.0\\.0\\.1:${notifyPort}`));
  assert.ok(html.includes('Sandbox cashier'));
  assert.ok(html.includes('88.00'));
  assert.ok(html.includes(APP_ID) && html.includes(SELLER_ID), 'merchant shown');
  assert.ok(html.includes(order.outTradeNo));
  const escaped = order.subject.replace(/&/g, '&amp;').replace(/</g, '&lt;')
    .replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  assert.ok(html.includes(escaped), 'subject shown, escaped');
  assert.ok(!html.includes('<b>&</b>'), 'no markup from the subject');
  assert.match(html, /<form method="post" action="\/pay">/);
  assert.match(html, /<form method="post" action="\/cancel">/);
  // As Alipay's SDKs POST it: common parameters in the query, biz_content in the body.
  const u = new URL(gatewayUrl(newOrder({ amount: '0.01' })));
  const biz = u.searchParams.get('biz_content');
  u.searchParams.delete('biz_content');
  const posted = await fetch(u, { method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ biz_content: biz }).toString() });
  const postedHtml = await posted.text();
  assert.equal(posted.status, 200, postedHtml);
  assert.ok(postedHtml.includes('0.01'));
  const css = await fetch(`http://127.0.0.1:${port}/style.css`);
  assert.equal(css.status, 200);
  assert.match(css.headers.get('content-type'), /^text\/css/);
});

test('a tampered, foreign-key or foreign-app request is refused with a clear page', async () => {
  const cases = [
    ['amount changed after signing', {
      tamper: (p) => { p.biz_content = p.biz_content.replace('"88.00"', '"0.01"'); },
    }, /Invalid signature/],
    ['notify_url changed after signing', {
      tamper: (p) => { p.notify_url = 'http://127.0.0.1:1/evil'; },
    }, /Invalid signature/],
    ['signed with the provider key', { key: keys.provider_private }, /Invalid signature/],
    ['sign removed', { tamper: (p) => { delete p.sign; } }, /Invalid signature/],
    ['sign_type RSA', { tamper: (p) => { p.sign_type = 'RSA'; } }, /sign_type/],
    ['another app id', { appId: '2026999999999999' }, /Unknown merchant/],
  ];
  const before = pendingFiles().length;
  for (const [name, opts, why] of cases) {
    const res = await fetch(gatewayUrl(newOrder(), opts));
    const html = await res.text();
    assert.equal(res.status, 400, name);
    assert.match(html, why, name);
    assert.ok(!html.includes('name="trade"'), `${name}: no cashier`);
  }
  const bad = await fetch(`http://127.0.0.1:${port}/gateway.do?a=%zz`);
  assert.equal(bad.status, 400);
  assert.equal(pendingFiles().length, before);
});

test('Pay returns the buyer with signed parameters and delivers the notification until success',
  async () => {
    const order = newOrder({ amount: '1234.50' });
    answers.set(order.outTradeNo, ['fail', 'fail', 'success']);
    const { trade } = await openCashier(order);
    const res = await post('/pay', { trade });
    assert.equal(res.status, 303);
    const loc = res.headers.get('location');
    assert.ok(loc.startsWith(`${returnUrl()}&`), loc);
    const ret = formToObject(new URL(loc).search.slice(1));
    assert.equal(ret.from, 'sandbox'); // the merchant's own query is kept
    delete ret.from;
    assert.ok(rsa2Verify(ret, keys.provider_public), 'the return verifies');
    assert.ok(!rsa2Verify(ret, keys.merchant_public), 'not with another key');
    assert.equal(ret.method, 'alipay.trade.page.pay.return');
    assert.equal(ret.out_trade_no, order.outTradeNo);
    assert.equal(ret.total_amount, '1234.50');
    assert.equal(ret.app_id, APP_ID);
    assert.equal(ret.seller_id, SELLER_ID);
    assert.equal(ret.charset, 'utf-8');
    assert.equal(ret.version, '1.0');
    assert.match(ret.trade_no, /^20\d{26}$/);
    assert.match(ret.timestamp, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);

    // Tries 1 (immediate), 2 (+240 ms), 3 (+600 ms) at time scale 0.001.
    await eventually(() => notificationsFor(order).length >= 3, 'three notification tries');
    const got = notificationsFor(order);
    assert.deepEqual(got.map((g) => g.answer), ['fail', 'fail', 'success']);
    assert.ok(got[1].at - got[0].at >= 200, `second try after ~240 ms (${got[1].at - got[0].at})`);
    assert.ok(got[2].at - got[1].at >= 500, `third try after ~600 ms (${got[2].at - got[1].at})`);
    for (const g of got) {
      assert.match(g.contentType, /^application\/x-www-form-urlencoded/);
      const p = g.params;
      assert.ok(rsa2Verify(p, keys.provider_public), 'the notification verifies');
      assert.equal(p.notify_type, 'trade_status_sync');
      assert.equal(p.trade_status, 'TRADE_SUCCESS');
      assert.equal(p.app_id, APP_ID);
      assert.equal(p.seller_id, SELLER_ID);
      assert.equal(p.out_trade_no, order.outTradeNo);
      assert.equal(p.trade_no, ret.trade_no);
      assert.equal(p.total_amount, '1234.50');
      assert.equal(p.receipt_amount, '1234.50');
      assert.equal(p.buyer_pay_amount, '1234.50');
      assert.equal(p.subject, order.subject);
      assert.equal(p.charset, 'utf-8');
      assert.equal(p.version, '1.0');
      for (const k of ['notify_time', 'notify_id', 'buyer_id', 'gmt_create', 'gmt_payment']) {
        assert.ok(p[k], `notification has ${k}`);
      }
      // Tampering is visible to the merchant.
      assert.ok(!rsa2Verify({ ...p, total_amount: '0.01' }, keys.provider_public));
    }
    assert.equal(got[0].params.notify_id, got[2].params.notify_id, 'one notification, retried');
    // Success stops the retries.
    await eventually(() => pendingFiles().length === 0, 'the pending file to go');
    await sleep(1500);
    assert.equal(notificationsFor(order).length, 3, 'no try after success');

    // Paying again only returns the buyer; the order cannot be paid twice.
    const again = await post('/pay', { trade });
    assert.equal(again.status, 303);
    const second = await fetch(gatewayUrl(order));
    assert.equal(second.status, 409);
    assert.match(await second.text(), /already been paid/);
    await sleep(300);
    assert.equal(notificationsFor(order).length, 3, 'no second notification');
  });

test('Cancel returns the buyer to return_url unpaid and notifies nobody', async () => {
  const order = newOrder();
  const { trade } = await openCashier(order);
  const res = await post('/cancel', { trade });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), returnUrl());
  const unknown = await post('/pay', { trade: 'f'.repeat(32) });
  assert.equal(unknown.status, 404);
  const junk = await post('/pay', { trade: '../../etc/passwd' });
  assert.equal(junk.status, 400);
  await sleep(300);
  assert.equal(notificationsFor(order).length, 0);
  // The trade can still be paid afterwards.
  answers.set(order.outTradeNo, ['success']);
  assert.equal((await post('/pay', { trade })).status, 303);
  await eventually(() => notificationsFor(order).length === 1, 'the notification');
});

test('a signed page-pay URL is not replayed: an old one is refused, the same order shows its trade', async () => {
  // Issue 10, finding 7: each GET of the same signed URL wrote a new trade,
  // forever.
  const tradeFiles = () => fs.readdirSync(join(dir, 'sandbox', 'trades'))
    .filter((f) => f.endsWith('.json')).length;
  const order = newOrder();
  const before = tradeFiles();
  const url = gatewayUrl(order);
  const first = await fetch(url);
  const html = await first.text();
  assert.equal(first.status, 200, html);
  const trade = html.match(/name="trade" value="([0-9a-f]{32})"/)[1];
  for (let i = 0; i < 5; i++) {
    const again = await fetch(url);
    const text = await again.text();
    assert.equal(again.status, 200, text);
    assert.ok(text.includes(`name="trade" value="${trade}"`), 'the same trade');
  }
  // A fresh request for the same order (the shop starts the payment again).
  const fresh = await fetch(gatewayUrl(order));
  assert.ok((await fresh.text()).includes(`name="trade" value="${trade}"`));
  assert.equal(tradeFiles(), before + 1, 'one trade file for the order');

  // Older (or later) than a few minutes: a clear page, no trade.
  for (const [what, ms] of [['an hour old', -3600e3], ['ten minutes old', -600e3],
    ['a day ahead', 86400e3]]) {
    const res = await fetch(gatewayUrl(newOrder(), { at: new Date(Date.now() + ms) }));
    const text = await res.text();
    assert.equal(res.status, 400, what);
    assert.match(text, /Payment link expired/, what);
    assert.match(text, /start the payment again/, what);
    assert.ok(!text.includes('name="trade"'), `${what}: no cashier`);
  }
  const bad = await fetch(gatewayUrl(newOrder(), { tamper: (p) => { delete p.timestamp; } }));
  assert.equal(bad.status, 400);
  assert.equal(tradeFiles(), before + 1, 'no trade for a refused request');

  // Paid, the same URL answers "already paid" and writes nothing.
  answers.set(order.outTradeNo, ['success']);
  assert.equal((await post('/pay', { trade })).status, 303);
  const paidAgain = await fetch(url);
  assert.equal(paidAgain.status, 409);
  assert.equal(tradeFiles(), before + 1);
});

test('a pending delivery survives a crash and restart of the sandbox', async () => {
  // 4 min x 0.01 = 2.4 s between the first and the second try: time to crash.
  assert.equal((await stopSandbox('SIGTERM')).code, 0, `clean stop\n${logs()}`);
  sandbox = startSandbox(0.01);
  await sandboxReady();

  const order = newOrder();
  answers.set(order.outTradeNo, ['fail', 'success']);
  const { trade } = await openCashier(order);
  assert.equal((await post('/pay', { trade })).status, 303);
  await eventually(() => notificationsFor(order).length === 1, 'the first try');
  await eventually(() => {
    const files = pendingFiles();
    if (files.length !== 1) return false;
    const n = JSON.parse(fs.readFileSync(join(dir, 'sandbox', 'pending', files[0]), 'utf8'));
    return n.attempts === 1;
  }, 'the first try to be recorded');
  const t0 = notificationsFor(order)[0].at;

  await stopSandbox('SIGKILL'); // no chance to clean up
  assert.equal(pendingFiles().length, 1, 'the pending notification is on disk');
  sandbox = startSandbox(0.01);
  await sandboxReady();
  await eventually(() => notificationsFor(order).length === 2, 'the retry after the restart');
  const got = notificationsFor(order);
  assert.ok(got[1].at - t0 >= 2000, `the schedule was kept (${got[1].at - t0} ms)`);
  assert.ok(rsa2Verify(got[1].params, keys.provider_public));
  assert.equal(got[1].raw, got[0].raw, 'the same signed body');
  await eventually(() => pendingFiles().length === 0, 'the pending file to go');

  assert.equal((await stopSandbox('SIGTERM')).code, 0, `clean stop\n${logs()}`);
});

test('after 8 failed tries the notification is moved to failed/', async () => {
  // The whole schedule (4m 10m 10m 1h 2h 6h 15h) x 0.0001 is about 8.8 s.
  sandbox = startSandbox(0.0001);
  await sandboxReady();
  const order = newOrder();
  answers.set(order.outTradeNo, ['fail']);
  const { trade } = await openCashier(order);
  assert.equal((await post('/pay', { trade })).status, 303);
  const failedDir = join(dir, 'sandbox', 'failed');
  const file = await eventually(() => fs.readdirSync(failedDir)
    .find((f) => JSON.parse(fs.readFileSync(join(failedDir, f), 'utf8')).out_trade_no ===
      order.outTradeNo), 'the notification to be given up', 30000, 200);
  const n = JSON.parse(fs.readFileSync(join(failedDir, file), 'utf8'));
  assert.equal(n.attempts, 8);
  assert.match(n.last_answer, /"fail"/);
  assert.equal(notificationsFor(order).length, 8);
  assert.equal(pendingFiles().length, 0);
  const got = notificationsFor(order);
  assert.ok(got[7].at - got[0].at >= 8000, `the schedule was kept (${got[7].at - got[0].at} ms)`);
  await sleep(500);
  assert.equal(notificationsFor(order).length, 8, 'no ninth try');
  assert.equal((await stopSandbox('SIGTERM')).code, 0, `clean stop\n${logs()}`);
});

test('shop-sandbox sign prints a body the merchant can verify', () => {
  const out = execFileSync(sandboxBin, ['sign', '--provider-private-key',
    join(dir, 'keys', 'provider_private.pem'), 'notify_id=1', `app_id=${APP_ID}`,
    'out_trade_no=42', 'trade_status=TRADE_SUCCESS', 'total_amount=88.00',
    'subject=tea & cups', 'body='], { encoding: 'utf8' }).trim();
  const p = formToObject(out);
  assert.equal(p.sign_type, 'RSA2');
  assert.equal(p.subject, 'tea & cups');
  assert.ok(rsa2Verify(p, keys.provider_public));
  assert.ok(!rsa2Verify({ ...p, total_amount: '1.00' }, keys.provider_public));
});

test('a notify URL answering a huge chunk size neither crashes the sandbox nor loses the delivery',
  async () => {
    if (!sandbox) {
      sandbox = startSandbox(0.001);
      await sandboxReady();
    }
    const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n';
    const raw = (write) => (socket) => {
      socket.on('error', () => {}); // the sandbox may hang up first
      write(socket);
    };
    const order = newOrder();
    answers.set(order.outTradeNo, [
      // The chunk size line cut short after ffffff, the connection closed.
      raw((s) => s.end(`${head}ffffff`)),
      // 16 MiB announced, "success" sent, the connection closed.
      raw((s) => s.end(`${head}ffffff\r\nsuccess`)),
      // 16 MiB announced and 1 MiB of it really sent: more than any answer read.
      raw((s) => s.end(Buffer.concat([Buffer.from(`${head}ffffff\r\n`),
        Buffer.alloc(1 << 20, 'x')]))),
      'success',
    ]);
    const { trade } = await openCashier(order);
    assert.equal((await post('/pay', { trade })).status, 303);
    await eventually(() => notificationsFor(order).length >= 4, 'four notification tries');
    await eventually(() => pendingFiles().length === 0, 'the pending file to go');
    const got = notificationsFor(order);
    assert.equal(got.length, 4, 'delivered on the fourth try, no more');
    assert.equal(got[0].params.notify_id, got[3].params.notify_id, 'one notification, retried');
    assert.ok(rsa2Verify(got[3].params, keys.provider_public));
    assert.equal(sandbox.exitCode, null, `the sandbox still runs\n${logs()}`);
    assert.equal(sandbox.signalCode, null, `the sandbox still runs\n${logs()}`);
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 200);
    const failed = fs.readdirSync(join(dir, 'sandbox', 'failed'));
    assert.ok(!failed.some((f) => JSON.parse(fs.readFileSync(join(dir, 'sandbox', 'failed', f),
      'utf8')).out_trade_no === order.outTradeNo), 'not given up');
    assert.equal((await stopSandbox('SIGTERM')).code, 0, `clean stop\n${logs()}`);
  });

// --- the open API: query, close, refund, refund query (issue 11) -----------

// The tests above end with the sandbox stopped: each test below starts it
// (with the test hooks) when it is not running.
async function running() {
  if (sandbox) return;
  sandbox = startSandbox(0.001);
  await sandboxReady();
}

const utc = (d) => d.toISOString().slice(0, 19).replace('T', ' ');

// A form POST of method to the gateway, signed with the merchant's key as
// Alipay's SDKs send it. Returns the response object (its signature checked
// with the provider's public key over the exact bytes of the object) with
// `_key` the member it came in.
async function api(method, biz, { key = keys.merchant_private, appId = APP_ID } = {}) {
  const params = {
    app_id: appId, method, format: 'JSON', charset: 'utf-8', sign_type: 'RSA2',
    timestamp: utc(new Date()), version: '1.0', biz_content: JSON.stringify(biz),
  };
  params.sign = rsa2Sign(signingString(params, { keepSignType: true }), key);
  const res = await fetch(`http://127.0.0.1:${port}/gateway.do`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded;charset=utf-8' },
    body: new URLSearchParams(params).toString(),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${text}\n${logs()}`);
  assert.equal(res.headers.get('content-type'), 'application/json;charset=utf-8');
  const body = JSON.parse(text);
  const name = `${method.replaceAll('.', '_')}_response`;
  const member = name in body ? name : 'error_response';
  const prefix = `{"${member}":`;
  assert.ok(text.startsWith(prefix), text);
  const raw = text.slice(prefix.length, text.lastIndexOf(',"sign":"'));
  assert.deepEqual(JSON.parse(raw), body[member]);
  assert.ok(crypto.verify('RSA-SHA256', Buffer.from(raw, 'utf8'), keys.provider_public,
    Buffer.from(body.sign, 'base64')), `the ${method} answer verifies`);
  assert.ok(!crypto.verify('RSA-SHA256', Buffer.from(raw, 'utf8'), keys.merchant_public,
    Buffer.from(body.sign, 'base64')), 'not with another key');
  return { ...body[member], _key: member };
}

async function hook(path, form) {
  const res = await post(path, form);
  return { status: res.status, body: await res.json() };
}

async function refundsOf(order) {
  const res = await fetch(`http://127.0.0.1:${port}/test/refunds?out_trade_no=${order.outTradeNo}`);
  assert.equal(res.status, 200);
  return res.json();
}

// A paid order (by the cashier's Pay); its trade_no.
async function paidOrder(extra = {}) {
  const order = newOrder(extra);
  const { trade } = await openCashier(order);
  const res = await post('/pay', { trade });
  assert.equal(res.status, 303);
  const ret = formToObject(new URL(res.headers.get('location')).search.slice(1));
  order.tradeNo = ret.trade_no;
  order.trade = trade;
  return order;
}

const failed = (a, sub) => {
  assert.equal(a.code, '40004', JSON.stringify(a));
  assert.equal(a.msg, 'Business Failed');
  assert.equal(a.sub_code, sub);
  assert.ok(a.sub_msg);
};

test('the open API refuses a foreign signature, app or method with a signed error_response',
  async () => {
    await running();
    const biz = { out_trade_no: '1' };
    const sig = await api('alipay.trade.query', biz, { key: keys.provider_private });
    assert.equal(sig._key, 'error_response');
    assert.equal(sig.code, '40002');
    assert.equal(sig.msg, 'Invalid Arguments');
    assert.equal(sig.sub_code, 'isv.invalid-signature');
    const app = await api('alipay.trade.refund', biz, { appId: '2026000000000999' });
    assert.equal(app.sub_code, 'isv.invalid-app-id');
    const m = await api('alipay.trade.pay.everything', biz);
    assert.equal(m._key, 'error_response');
    assert.equal(m.sub_code, 'isv.invalid-method');
  });

test('alipay.trade.query and close: unknown, waiting, closed (never paid afterwards), paid',
  async () => {
    await running();
    failed(await api('alipay.trade.query', { out_trade_no: 'no-such-order' }),
      'ACQ.TRADE_NOT_EXIST');
    failed(await api('alipay.trade.close', { out_trade_no: 'no-such-order' }),
      'ACQ.TRADE_NOT_EXIST');

    const order = newOrder();
    const { trade } = await openCashier(order);
    const q = await api('alipay.trade.query', { out_trade_no: order.outTradeNo });
    assert.equal(q._key, 'alipay_trade_query_response');
    assert.equal(q.code, '10000');
    assert.equal(q.msg, 'Success');
    assert.equal(q.trade_status, 'WAIT_BUYER_PAY');
    assert.equal(q.out_trade_no, order.outTradeNo);
    assert.equal(q.total_amount, '88.00');
    assert.match(q.trade_no, /^20\d{26}$/);
    assert.ok(q.buyer_logon_id);
    assert.equal(q.send_pay_date, undefined, 'not paid: no send_pay_date');

    const c = await api('alipay.trade.close', { out_trade_no: order.outTradeNo });
    assert.equal(c.code, '10000');
    assert.equal(c.trade_no, q.trade_no);
    assert.equal(c.out_trade_no, order.outTradeNo);
    assert.equal((await api('alipay.trade.close', { out_trade_no: order.outTradeNo })).code,
      '10000', 'closing again is fine');
    assert.equal((await api('alipay.trade.query', { out_trade_no: order.outTradeNo }))
      .trade_status, 'TRADE_CLOSED');
    // The cashier refuses to take money for it, and so does a new visit.
    const pay = await post('/pay', { trade });
    assert.equal(pay.status, 409);
    assert.match(await pay.text(), /Trade closed/);
    const visit = await fetch(gatewayUrl(order));
    assert.equal(visit.status, 409);
    const text = await visit.text();
    assert.match(text, /Trade closed/);
    assert.ok(!text.includes('name="trade"'), 'no cashier');
    assert.equal((await api('alipay.trade.query', { out_trade_no: order.outTradeNo }))
      .trade_status, 'TRADE_CLOSED');
    await sleep(200);
    assert.equal(notificationsFor(order).length, 0);

    const paid = await paidOrder();
    const pq = await api('alipay.trade.query', { out_trade_no: paid.outTradeNo });
    assert.equal(pq.trade_status, 'TRADE_SUCCESS');
    assert.equal(pq.trade_no, paid.tradeNo);
    assert.match(pq.send_pay_date, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    assert.equal((await api('alipay.trade.query', { trade_no: paid.tradeNo })).out_trade_no,
      paid.outTradeNo, 'found by trade_no too');
    failed(await api('alipay.trade.close', { out_trade_no: paid.outTradeNo }),
      'ACQ.TRADE_STATUS_ERROR');
  });

test('time_expire: after it the trade is closed and cannot be paid', async () => {
  await running();
  const order = newOrder({ timeExpire: utc(new Date(Date.now() + 2000)) });
  const { trade, html } = await openCashier(order);
  assert.ok(html.includes(`${order.timeExpire} UTC`), 'the cashier shows the deadline');
  assert.equal((await api('alipay.trade.query', { out_trade_no: order.outTradeNo }))
    .trade_status, 'WAIT_BUYER_PAY');
  await sleep(2600);
  assert.equal((await api('alipay.trade.query', { out_trade_no: order.outTradeNo }))
    .trade_status, 'TRADE_CLOSED');
  assert.equal((await post('/pay', { trade })).status, 409);
  assert.equal((await fetch(gatewayUrl(order))).status, 409);

  const late = newOrder({ timeExpire: utc(new Date(Date.now() - 1000)) });
  const res = await fetch(gatewayUrl(late));
  assert.equal(res.status, 409);
  assert.match(await res.text(), /Payment time is over/);
  failed(await api('alipay.trade.query', { out_trade_no: late.outTradeNo }),
    'ACQ.TRADE_NOT_EXIST');
  const bad = await fetch(gatewayUrl(newOrder({ timeExpire: 'tomorrow' })));
  assert.equal(bad.status, 400);
});

test('"Pay, but lose the notification" takes the money, returns the buyer, notifies nobody',
  async () => {
    await running();
    const order = newOrder();
    const { trade, html } = await openCashier(order);
    assert.ok(html.includes('Pay, but lose the notification'));
    const res = await post('/pay', { trade, notify: '0' });
    assert.equal(res.status, 303);
    const loc = res.headers.get('location');
    assert.ok(loc.startsWith(`${returnUrl()}&`), loc);
    const ret = formToObject(new URL(loc).search.slice(1));
    delete ret.from;
    assert.ok(rsa2Verify(ret, keys.provider_public), 'the return verifies');
    const q = await api('alipay.trade.query', { out_trade_no: order.outTradeNo });
    assert.equal(q.trade_status, 'TRADE_SUCCESS');
    assert.equal(q.trade_no, ret.trade_no);
    await sleep(500);
    assert.equal(notificationsFor(order).length, 0, 'no notification');
    assert.equal(pendingFiles().length, 0, 'none pending either');
  });

test('alipay.trade.refund: once per out_request_no, partial refunds up to the amount paid',
  async () => {
    await running();
    const order = await paidOrder();
    const refund = (no, amount, extra = {}) => api('alipay.trade.refund', {
      out_trade_no: order.outTradeNo, refund_amount: amount, out_request_no: no,
      refund_reason: 'test', ...extra });
    const r1 = await refund('r1', '30.00');
    assert.equal(r1._key, 'alipay_trade_refund_response');
    assert.equal(r1.code, '10000');
    assert.equal(r1.trade_no, order.tradeNo);
    assert.equal(r1.out_trade_no, order.outTradeNo);
    assert.ok(r1.buyer_logon_id);
    assert.equal(r1.fund_change, 'Y');
    assert.equal(r1.refund_fee, '30.00');
    assert.match(r1.gmt_refund_pay, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    // The same request again: the same success, no second refund.
    const again = await refund('r1', '30.00');
    assert.deepEqual(again, r1);
    assert.equal((await refundsOf(order)).length, 1);
    failed(await refund('r1', '31.00'), 'ACQ.DISCORDANT_REPEAT_REQUEST');
    const r2 = await refund('r2', '58.00', { trade_no: order.tradeNo });
    assert.equal(r2.code, '10000');
    assert.equal(r2.refund_fee, '88.00', 'the total refunded so far');
    failed(await refund('r3', '0.01'), 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL');
    const list = await refundsOf(order);
    assert.deepEqual(list.map((r) => [r.trade_no, r.out_request_no, r.amount]),
      [[order.tradeNo, 'r1', '30.00'], [order.tradeNo, 'r2', '58.00']]);
    for (const r of list) assert.match(r.time, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);

    const q = await api('alipay.trade.fastpay.refund.query',
      { out_trade_no: order.outTradeNo, out_request_no: 'r1' });
    assert.equal(q._key, 'alipay_trade_fastpay_refund_query_response');
    assert.equal(q.code, '10000');
    assert.equal(q.trade_no, order.tradeNo);
    assert.equal(q.out_trade_no, order.outTradeNo);
    assert.equal(q.out_request_no, 'r1');
    assert.equal(q.total_amount, '88.00');
    assert.equal(q.refund_amount, '30.00');
    assert.equal(q.refund_status, 'REFUND_SUCCESS');
    const none = await api('alipay.trade.fastpay.refund.query',
      { out_trade_no: order.outTradeNo, out_request_no: 'r9' });
    assert.equal(none.code, '10000');
    assert.equal(none.refund_status, undefined);
    assert.equal(none.refund_amount, undefined);

    const open = newOrder();
    await openCashier(open);
    failed(await api('alipay.trade.refund', { out_trade_no: open.outTradeNo,
      refund_amount: '1.00', out_request_no: 'x' }), 'ACQ.TRADE_STATUS_ERROR');
    failed(await api('alipay.trade.refund', { out_trade_no: 'no-such-order',
      refund_amount: '1.00', out_request_no: 'x' }), 'ACQ.TRADE_NOT_EXIST');
  });

test('test hooks: a refund that fails once, a late payment, a second payment', async () => {
  await running();
  const order = await paidOrder();
  const refund = (no, extra = {}) => api('alipay.trade.refund', { out_trade_no: order.outTradeNo,
    refund_amount: '10.00', out_request_no: no, ...extra });
  assert.equal((await hook('/test/next-refund-fails', {})).status, 200);
  failed(await refund('f1'), 'ACQ.SELLER_BALANCE_NOT_ENOUGH');
  assert.equal((await refundsOf(order)).length, 0, 'nothing refunded');
  assert.equal((await refund('f1')).code, '10000', 'only the next one fails');
  await hook('/test/next-refund-fails', { sub_code: 'ACQ.SYSTEM_ERROR' });
  failed(await refund('f2'), 'ACQ.SYSTEM_ERROR');
  assert.equal((await refundsOf(order)).length, 1);

  // A late payment of a closed trade, without and with the notification.
  const late = newOrder();
  await openCashier(late);
  await api('alipay.trade.close', { out_trade_no: late.outTradeNo });
  const p = await hook('/test/pay', { out_trade_no: late.outTradeNo, notify: '0' });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.match(p.body.trade_no, /^20\d{26}$/);
  const lq = await api('alipay.trade.query', { out_trade_no: late.outTradeNo });
  assert.equal(lq.trade_status, 'TRADE_SUCCESS');
  assert.equal(lq.trade_no, p.body.trade_no);
  assert.equal((await hook('/test/pay', { out_trade_no: late.outTradeNo })).status, 409);
  assert.equal((await hook('/test/pay', { out_trade_no: 'never-opened' })).status, 404);
  const loud = newOrder();
  await openCashier(loud);
  assert.equal((await hook('/test/pay', { out_trade_no: loud.outTradeNo, notify: '1' })).status,
    200);
  await eventually(() => notificationsFor(loud).length === 1, 'the late payment\'s notification');
  await sleep(300);
  assert.equal(notificationsFor(late).length, 0, 'notify=0: none');

  // A second payment: a new trade_no, notified, refundable by its trade_no.
  assert.equal((await hook('/test/pay-again', { out_trade_no: newOrder().outTradeNo })).status,
    409, 'not paid yet');
  const second = await hook('/test/pay-again', { out_trade_no: loud.outTradeNo, notify: '1' });
  assert.equal(second.status, 200);
  assert.notEqual(second.body.trade_no, notificationsFor(loud)[0].params.trade_no);
  await eventually(() => notificationsFor(loud).length === 2, 'the second payment\'s notification');
  const n2 = notificationsFor(loud)[1].params;
  assert.ok(rsa2Verify(n2, keys.provider_public));
  assert.equal(n2.trade_no, second.body.trade_no);
  assert.equal((await api('alipay.trade.query', { out_trade_no: loud.outTradeNo })).trade_no,
    notificationsFor(loud)[0].params.trade_no, 'the query still shows the first payment');
  const r = await api('alipay.trade.refund', { out_trade_no: loud.outTradeNo,
    trade_no: second.body.trade_no, refund_amount: '88.00', out_request_no: 'dup-1' });
  assert.equal(r.code, '10000');
  assert.equal(r.trade_no, second.body.trade_no);
  const rq = await api('alipay.trade.fastpay.refund.query',
    { out_trade_no: loud.outTradeNo, out_request_no: 'dup-1' });
  assert.equal(rq.refund_status, 'REFUND_SUCCESS');
  assert.equal(rq.trade_no, second.body.trade_no);
  assert.deepEqual((await refundsOf(loud)).map((x) => [x.trade_no, x.amount]),
    [[second.body.trade_no, '88.00']]);
});

test('the bill: a signed download URL, the day\'s payments and refunds as CSV', async () => {
  await running();
  const day = '2003-04-05';
  const order = newOrder({ amount: '12.50' });
  await openCashier(order);
  const paid = await hook('/test/pay', { out_trade_no: order.outTradeNo, at: `${day} 08:00:00` });
  assert.equal(paid.status, 200);
  const today = utc(new Date()).slice(0, 10);
  const refund = await api('alipay.trade.refund', { out_trade_no: order.outTradeNo,
    refund_amount: '2.50', out_request_no: 'bill-r1' });
  assert.equal(refund.code, '10000');
  const billOf = async (d) => {
    const a = await api('alipay.data.dataservice.bill.downloadurl.query',
      { bill_type: 'trade', bill_date: d });
    assert.equal(a._key, 'alipay_data_dataservice_bill_downloadurl_query_response');
    assert.equal(a.code, '10000', JSON.stringify(a));
    assert.ok(a.bill_download_url.startsWith(`http://127.0.0.1:${port}/bill?`));
    const res = await fetch(a.bill_download_url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/csv; charset=utf-8/);
    return { url: a.bill_download_url, text: await res.text() };
  };
  const { url, text } = await billOf(day);
  const lines = text.split('\r\n');
  assert.equal(lines[0], '#支付宝业务明细查询');
  assert.equal(lines[1], `#账号：[${SELLER_ID}]`);
  const head = lines.find((l) => !l.startsWith('#')).split(',');
  assert.deepEqual(head.slice(0, 6), ['支付宝交易号', '商户订单号', '业务类型', '商品名称',
    '创建时间', '完成时间']);
  assert.equal(head.length, 25);
  assert.equal(head[11], '订单金额（元）');
  assert.equal(head[21], '退款批次号/请求号');
  assert.ok(lines.includes('#-----------------------------------------业务明细列表结束' +
    '------------------------------------'));
  assert.ok(lines.some((l) => /^#交易合计：\d+笔，.*退款合计：\d+笔/.test(l)));
  const row = lines.find((l) => l.startsWith(`${paid.body.trade_no},`));
  assert.ok(row, text);
  assert.ok(row.includes(`,${order.outTradeNo},交易,`));
  assert.ok(row.includes(`,${day} 08:00:00,`), 'paid that day');
  assert.ok(row.includes(',12.50,12.50,'));
  assert.ok(row.includes('"Order #'), 'the subject quoted (it has a quote and a comma)');
  // The refund was made today: in today's bill, negative, with its request number.
  const todays = (await billOf(today)).text.split('\r\n')
    .find((l) => l.startsWith(`${paid.body.trade_no},`) && l.includes(',退款,'));
  assert.ok(todays);
  assert.ok(todays.includes(',-2.50,-2.50,') && todays.includes(',bill-r1,'));

  // A tampered link is refused; a day to come has no bill.
  // (its first character changed: to '1' when it is '0', else to '0')
  const tampered = url.replace(/token=(.)/, (m, c) => `token=${c === '0' ? '1' : '0'}`);
  assert.notEqual(tampered, url);
  assert.equal((await fetch(tampered)).status, 403);
  const future = new Date(Date.now() + 2 * 86400e3).toISOString().slice(0, 10);
  failed(await api('alipay.data.dataservice.bill.downloadurl.query',
    { bill_type: 'trade', bill_date: future }), 'isp.bill_not_exist');
});

test('trades and refunds survive a restart; without --test-hooks the hooks are 404', async () => {
  await running();
  const order = await paidOrder();
  await api('alipay.trade.refund', { out_trade_no: order.outTradeNo, refund_amount: '8.00',
    out_request_no: 'keep-1' });
  const closed = newOrder();
  await openCashier(closed);
  await api('alipay.trade.close', { out_trade_no: closed.outTradeNo });

  assert.equal((await stopSandbox('SIGTERM')).code, 0, `clean stop\n${logs()}`);
  sandbox = startSandbox(0.001, { hooks: false });
  await sandboxReady();
  for (const [path, get] of [['/test/refunds', true], ['/test/pay', false],
    ['/test/pay-again', false], ['/test/next-refund-fails', false]]) {
    const res = get ? await fetch(`http://127.0.0.1:${port}${path}?out_trade_no=1`)
      : await post(path, { out_trade_no: order.outTradeNo });
    assert.equal(res.status, 404, path);
  }
  const q = await api('alipay.trade.query', { out_trade_no: order.outTradeNo });
  assert.equal(q.trade_status, 'TRADE_SUCCESS');
  assert.equal(q.trade_no, order.tradeNo);
  const rq = await api('alipay.trade.fastpay.refund.query',
    { out_trade_no: order.outTradeNo, out_request_no: 'keep-1' });
  assert.equal(rq.refund_amount, '8.00');
  const again = await api('alipay.trade.refund', { out_trade_no: order.outTradeNo,
    refund_amount: '8.00', out_request_no: 'keep-1' });
  assert.equal(again.refund_fee, '8.00', 'still refunded once');
  assert.equal((await api('alipay.trade.query', { out_trade_no: closed.outTradeNo }))
    .trade_status, 'TRADE_CLOSED');

  assert.equal((await stopSandbox('SIGTERM')).code, 0);
  sandbox = startSandbox(0.001);
  await sandboxReady();
  assert.equal((await refundsOf(order)).length, 1);
});
