// What the integration suites share: where the running shop is (the SHOP_*
// variables scripts/services writes to <run>/test-env.sh) and its settings,
// SQL against its databases with the mariadb client, the HTTP API, a fresh
// buyer and goods, scripts/services, publishing an event with shop-admin, and
// waiting for the asynchronous part (consumers) to get somewhere.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const port = process.env.SHOP_HTTP_PORT || '8080';
export const dbPort = process.env.SHOP_DB_PORT || '23306';
export const runDir = process.env.SHOP_RUN_DIR || join(repo, 'run');
export const binDir = process.env.SHOP_BIN_DIR || join(repo, 'build', 'src');
export const base = `http://127.0.0.1:${port}`;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- settings and databases ------------------------------------------------

// A setting of the running app as it has it (src/config.c): the environment
// SHOP_<NAME> wins over the `name = value` line of <run>/shop.conf; '' when
// neither has it.
let confLines = null;
export function setting(name) {
  const env = process.env[`SHOP_${name.toUpperCase()}`];
  if (env !== undefined) return env;
  if (confLines === null) {
    confLines = {};
    let text = '';
    try { text = readFileSync(join(runDir, 'shop.conf'), 'utf8'); } catch { /* not written yet */ }
    for (const m of text.matchAll(/^\s*([a-z_]+)\s*=\s*(.*?)\s*$/gm)) confLines[m[1]] = m[2];
  }
  return confLines[name] ?? '';
}

// Where each table is: table -> the databases that have it. A service's
// tables are those its migrations create (sql/SERVICE/NNNN_*.sql), in its
// database (goods_db_name, ...; '' is the main one, db_name); sql/common/ is
// in every database (sql/README.md).
export const mainDb = setting('db_name') || 'shop';
const tableDbs = new Map();
{
  const sqlDir = join(repo, 'sql');
  const folders = readdirSync(sqlDir, { withFileTypes: true }).filter((d) => d.isDirectory())
    .map((d) => d.name);
  const dbOf = (svc) => setting(`${svc}_db_name`) || mainDb;
  const every = [...new Set([mainDb, ...folders.filter((f) => f !== 'common').map(dbOf)])];
  for (const folder of folders) {
    for (const f of readdirSync(join(sqlDir, folder)).filter((n) => /^\d{4}_.*\.sql$/.test(n))) {
      const text = readFileSync(join(sqlDir, folder, f), 'utf8');
      for (const [, table] of text.matchAll(/^CREATE TABLE IF NOT EXISTS (\w+)/gm)) {
        tableDbs.set(table, folder === 'common' ? every : [dbOf(folder)]);
      }
    }
  }
}
const oneDatabase = [...tableDbs.values()].every((dbs) => dbs.length === 1 && dbs[0] === mainDb);

// The tokens of SQL text: strings, quoted names and comments whole.
const TOKEN = /'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|`[^`]*`|--[^\n]*|#[^\n]*|\/\*[\s\S]*?\*\/|[A-Za-z_][A-Za-z0-9_$]*|\s+|[\s\S]/g;
// What may follow a table in FROM that is not its alias.
const NOT_ALIAS = new Set(['WHERE', 'JOIN', 'LEFT', 'RIGHT', 'INNER', 'CROSS', 'NATURAL', 'ON',
  'USING', 'GROUP', 'ORDER', 'LIMIT', 'HAVING', 'UNION', 'FOR', 'LOCK', 'WINDOW', 'SET']);

// One statement with each table named in its database. A table in several
// databases (the consumer log) is read as the union of them all; a statement
// that writes it runs once in each.
function routeStatement(tokens) {
  const words = tokens.filter((t) => !/^\s|^--|^#|^\/\*/.test(t));
  const isTable = (i) => tableDbs.has(tokens[i]) && tokens[i - 1] !== '.';
  const multi = tokens.map((_, i) => i).filter((i) => isTable(i) && tableDbs.get(tokens[i]).length > 1);
  const reads = /^(SELECT|WITH|\()$/i.test(words[0] || '');
  const named = (i, db) => `\`${db}\`.${tokens[i]}`;
  if (multi.length > 1 && !reads) throw new Error(`sql(): writes two tables of several databases: ${tokens.join('')}`);
  const variants = !reads && multi.length ? tableDbs.get(tokens[multi[0]]) : [null];
  return variants.map((db) => tokens.map((t, i) => {
    if (!isTable(i)) return t;
    const dbs = tableDbs.get(t);
    if (dbs.length === 1) return named(i, dbs[0]);
    if (!reads) return named(i, db);
    const next = tokens.slice(i + 1).find((x) => !/^\s/.test(x)) || '';
    const aliased = /^[A-Za-z_]/.test(next) && !NOT_ALIAS.has(next.toUpperCase());
    const union = dbs.map((d) => `SELECT * FROM \`${d}\`.${t}`).join(' UNION ALL ');
    return `(${union})${aliased ? '' : ` AS ${t}`}`;
  }).join(''));
}

// The query with every table in its database (unchanged with one database).
export function route(query) {
  if (oneDatabase) return query;
  const statements = [[]];
  for (const t of query.match(TOKEN) || []) {
    if (t === ';') statements.push([]);
    else statements[statements.length - 1].push(t);
  }
  return statements.filter((s) => s.some((t) => !/^\s/.test(t)))
    .flatMap(routeStatement).join(';\n');
}

// Rows (arrays of strings) of a query, as the shop user, each table read in
// the database that has it (route).
export const sql = (query) => sqlAt(dbPort, query);
// The same through the database server on port (a node of a cluster).
export function sqlAt(port, query) {
  const out = execFileSync('mariadb', ['-h', '127.0.0.1', '-P', String(port), '-u', 'shop', '-pshop',
    mainDb, '-N', '-B', '-e', route(query)], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}
export const one = (query) => sql(query)[0][0];
export const count = (query) => Number(one(query));

// --- services and broker ---------------------------------------------------

// scripts/services ARGS with the suite's environment plus `extra` (e.g. a
// fault; undefined removes a variable); resolves to its output, rejects with
// its error output. Asynchronous on purpose: while nginx reloads, the event
// loop must run so that fetch sees the old workers close their kept
// connections instead of sending the next request into one.
export function services(extra, ...args) {
  const env = { ...process.env, ...extra };
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  return new Promise((resolve, reject) => {
    execFile(join(repo, 'scripts', 'services'), args, { env, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`scripts/services ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

// Publish an event to the shop's exchange, confirmed by the broker.
export function publish(key, messageId, body) {
  execFileSync(join(binDir, 'shop-admin'), ['--config', join(runDir, 'shop.conf'), 'publish',
    key, messageId, typeof body === 'string' ? body : JSON.stringify(body)],
  { env: process.env, stdio: ['ignore', 'ignore', 'inherit'] });
}

// fn() (sync or async) until check(value) holds or ms have passed; the last
// value either way, for the caller's assertion to show.
// A call that throws (a connection reset while a service restarts) counts as
// "not yet"; when the time is up, its error is thrown.
export async function eventually(fn, check, ms = 30000, delay = 250) {
  const end = Date.now() + ms;
  const attempt = async () => {
    try {
      return { v: await fn() };
    } catch (e) {
      return { e };
    }
  };
  let r = await attempt();
  while (('e' in r || !check(r.v)) && Date.now() < end) {
    await sleep(delay);
    r = await attempt();
  }
  if ('e' in r) throw r.e;
  return r.v;
}

// --- processes -----------------------------------------------------------------

// The pid in $SHOP_RUN_DIR/pids/NAME.pid (scripts/services writes them).
export function pidOf(name) {
  return Number(readFileSync(join(runDir, 'pids', `${name}.pid`), 'utf8').trim());
}
export function signal(name, sig) {
  try {
    process.kill(pidOf(name), sig);
  } catch {
    /* already gone */
  }
}

// Run fns (functions returning promises) with at most `limit` at a time.
export async function pool(fns, limit) {
  const out = new Array(fns.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, fns.length) }, async () => {
    while (next < fns.length) {
      const i = next++;
      out[i] = await fns[i]();
    }
  });
  await Promise.all(lanes);
  return out;
}

// --- money and ids -----------------------------------------------------------

// Money as the API writes it, and back to cents.
export const fmt = (c) => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`;
export const cents = (s) => Math.round(Number(s) * 100);

// Unique ids for the rows the tests make (numbers, from the clock).
let seq = 0;
export const freshId = () => (Date.now() % 1e12) * 1000 + (process.pid % 10) * 100 + (seq++ % 100);

// --- HTTP --------------------------------------------------------------------

// A request to the shop (path), or to url; redirects are not followed. A
// body that is not a string is sent as JSON; a body is application/json
// unless headers name another content-type. Resolves to { res, body (the
// JSON answer, or null), text }.
export async function api(path, { method = 'GET', body, cookie, csrf, headers = {}, url } = {}) {
  const h = { ...headers };
  if (body !== undefined && !h['content-type']) h['content-type'] = 'application/json';
  if (cookie) h.cookie = cookie;
  if (csrf) h['x-csrf-token'] = csrf;
  const res = await fetch(url || base + path, {
    method, headers: h, redirect: 'manual',
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { res, body: json, text };
}

// A pre-session CSRF token from GET /api/session: { cookie ("shop_csrf=..."),
// csrf }. Logging in and registering need both: the cookie, and the same
// token in X-CSRF-Token (or a form's csrf_token field).
export async function preSession() {
  const r = await api('/api/session');
  assert.equal(r.res.status, 200, r.text);
  const line = r.res.headers.getSetCookie().find((l) => l.startsWith('shop_csrf='));
  assert.ok(line, 'GET /api/session sets the shop_csrf cookie');
  return { cookie: line.split(';')[0], csrf: r.body.csrf_token };
}

// POST path (logging in, registering) with a pre-session token; a busy
// answer (503 SHOP_BUSY: the app's password hashes all taken, or nginx's
// per-client login rate) is tried again after its Retry-After, as a client
// should.
export async function prePost(path, body) {
  for (let i = 0; ; i++) {
    const pre = await preSession();
    const r = await api(path, { method: 'POST', body, cookie: pre.cookie, csrf: pre.csrf });
    if (r.res.status !== 503 || i >= 10) return r;
    await sleep(1000 * (Number(r.res.headers.get('retry-after')) || 1));
  }
}

// A fresh, logged-in buyer (registered through the API, named prefix_...)
// with a balance (cents) and coupons (cents each): { id, cookie, csrf,
// coupons (their ids) }.
export async function buyer({ money = 0, coupons = [], prefix = 'buyer' } = {}) {
  seq += 1;
  const n = `${Date.now() % 1e10}${process.pid % 100}${seq}`;
  const u = { user_name: `${prefix}_${n}`.slice(0, 32), user_mobile: `8${n}`.slice(0, 20),
    password: `pw-${n}-secret` };
  const r = await prePost('/api/users', u);
  assert.equal(r.res.status, 201, r.text);
  const line = r.res.headers.getSetCookie().find((l) => l.startsWith('shop_session='));
  assert.ok(line, 'registering logs in');
  const id = r.body.user.user_id;
  if (money) sql(`UPDATE trade_user SET user_money = ${fmt(money)} WHERE user_id = ${id}`);
  const couponIds = coupons.map((price) => {
    const c = freshId();
    sql(`INSERT INTO trade_coupon (coupon_id, coupon_price, user_id, is_used)
         VALUES (${c}, ${fmt(price)}, ${id}, 0)`);
    return String(c);
  });
  return { id, cookie: line.split(';')[0], csrf: r.body.csrf_token, coupons: couponIds };
}

// --- orders ------------------------------------------------------------------

// The JSON a browser sends for `number` units of goods at price (cents).
export function orderBody(goodsId, priceCents, number, { couponId, couponCents = 0, pay = 'all' } = {}) {
  const goodsAmount = priceCents * number;
  const shipping = goodsAmount > 10000 ? 0 : 1000;
  const orderAmount = goodsAmount + shipping;
  const couponPaid = couponId ? Math.min(couponCents, orderAmount) : 0;
  const moneyPaid = pay === 'all' ? orderAmount - couponPaid : pay;
  const b = {
    goods_id: String(goodsId), goods_number: number, goods_price: fmt(priceCents),
    shipping_fee: fmt(shipping), order_amount: fmt(orderAmount),
    address: '7 Resilience Road', consignee: 'Test Buyer',
  };
  if (couponId) b.coupon_id = couponId;
  if (moneyPaid > 0) b.money_paid = fmt(moneyPaid);
  return b;
}

// --- goods -------------------------------------------------------------------

// The longest an anonymous visitor may be shown a catalogue page as it was
// (nginx/shop.conf: fastcgi_cache_valid 1s, counted in whole seconds). A
// suite that changed the goods waits this long at its end, so that the next
// one sees the catalogue as the database has it.
export const CATALOGUE_CACHE_MS = 2000;
export const catalogueSettled = () => sleep(CATALOGUE_CACHE_MS);

// A new goods with stock and price (cents); its id (a number). The suite's
// goods and their stock log are removed when it ends.
const madeGoods = [];
export function newGoods(stock, price = 990) {
  const g = freshId();
  sql(`INSERT INTO trade_goods (goods_id, goods_name, goods_number, goods_price, goods_desc)
       VALUES (${g}, 'Test goods ${g}', ${stock}, ${fmt(price)}, 'integration test')`);
  madeGoods.push(g);
  return g;
}
after(async () => {
  if (!madeGoods.length) return;
  sql(`DELETE FROM trade_goods_number_log WHERE goods_id IN (${madeGoods.join(',')});
       DELETE FROM trade_goods WHERE goods_id IN (${madeGoods.join(',')})`);
  await catalogueSettled();
});

// --- the provider's notification, written again in JavaScript ---------------
// (independently of src/alipay.c), signed with the provider's private key of
// the run directory (made by scripts/keys).

export const APP_ID = process.env.SHOP_ALIPAY_APP_ID || '2026000000000001';
export const SELLER_ID = process.env.SHOP_ALIPAY_SELLER_ID || '2088000000000001';
// A PEM file of <run>/keys.
export const runKey = (name) => readFileSync(join(runDir, 'keys', name), 'utf8');

// Sorted k=v of the non-empty values without sign and sign_type (rsaCheckV1);
// requests keep sign_type.
export function signingString(params, keepSignType = false) {
  return Object.keys(params)
    .filter((k) => k !== 'sign' && (keepSignType || k !== 'sign_type') && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

export const signWith = (key, params) =>
  crypto.createSign('RSA-SHA256').update(signingString(params), 'utf8').sign(key, 'base64');

let tradeSeq = 0;
export function notification(orderId, amount, extra = {}) {
  const now = new Date().toISOString().slice(0, 19).replace('T', ' ');
  tradeSeq += 1;
  const p = {
    notify_time: now, notify_type: 'trade_status_sync',
    notify_id: `nid${Date.now()}${tradeSeq}`, app_id: APP_ID, charset: 'utf-8', version: '1.0',
    sign_type: 'RSA2', trade_no: `2026${Date.now()}${process.pid % 100}${tradeSeq}`,
    out_trade_no: String(orderId), trade_status: 'TRADE_SUCCESS', total_amount: amount,
    receipt_amount: amount, buyer_pay_amount: amount, seller_id: SELLER_ID,
    buyer_id: '2088102177846880', subject: `Shop order ${orderId}`, gmt_create: now,
    gmt_payment: now, ...extra,
  };
  return p;
}

// params with their sign (by default the provider's).
export function signed(params, key = runKey('provider_private.pem')) {
  return { ...params, sign: signWith(key, params) };
}

export const form = (params) => new URLSearchParams(params).toString();

// POST a notification body to the shop: { status, text, type }.
export function notify(body, contentType = 'application/x-www-form-urlencoded; charset=utf-8') {
  return fetch(`${base}/pay/notify/alipay`, {
    method: 'POST', headers: { 'content-type': contentType }, body,
  }).then(async (res) => ({ status: res.status, text: await res.text(),
    type: res.headers.get('content-type') }));
}

// --- the provider sandbox (refunds.test.mjs, admin.test.mjs) ---------------

export const sandbox = new URL(setting('alipay_gateway') ||
  `http://127.0.0.1:${process.env.SHOP_SANDBOX_PORT || '8081'}/gateway.do`).origin;

export function sandboxPost(path, params) {
  return fetch(`${sandbox}${path}`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  }).then(async (res) => ({ status: res.status, text: await res.text() }));
}

// The refunds the sandbox made for an order: [{trade_no, out_request_no, amount, …}].
export async function sandboxRefunds(orderId) {
  const res = await fetch(`${sandbox}/test/refunds?out_trade_no=${orderId}`);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  const j = JSON.parse(text);
  return Array.isArray(j) ? j : j.refunds;
}

// Press "Pay" on the sandbox's cashier page of trade, as the buyer does; the
// sandbox notifies the shop.
export async function payAtCashier(trade) {
  const r = await api('', { url: `${sandbox}/pay`, method: 'POST', body: `trade=${trade}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(r.res.status, 303, r.text);
}

// A confirmed order of one new goods (stock 100) at price (cents), paying
// moneyPaid cents from the balance and a coupon when given; its payment
// started (the cashier's trade opened at the sandbox).
export async function payable(b, price, { moneyPaid = 0, coupon } = {}) {
  const g = newGoods(100, price);
  const body = orderBody(g, price, 1, { pay: moneyPaid, couponId: coupon?.id,
    couponCents: coupon?.cents });
  let r = await api('/api/orders', { method: 'POST', body, cookie: b.cookie, csrf: b.csrf });
  assert.equal(r.res.status, 201, r.text);
  const o = r.body.order;
  r = await api(`/api/orders/${o.order_id}/payment`, { method: 'POST', cookie: b.cookie,
    csrf: b.csrf });
  assert.equal(r.res.status, 200, r.text);
  const cashier = await api('', { url: r.body.redirect_url }); // the trade opens
  assert.equal(cashier.res.status, 200, cashier.text);
  const trade = cashier.text.match(/name="trade" value="([^"]+)"/)[1];
  return { order: o, pay: r.body, goods: g, trade };
}

// Paid at the cashier and applied by the shop (pay_status 2).
export async function paidOrder(b, price, opts) {
  const p = await payable(b, price, opts);
  await payAtCashier(p.trade);
  await eventually(() => one(`SELECT pay_status FROM trade_order WHERE order_id = ${p.order.order_id}`),
    (x) => x === '2');
  return p;
}

// --- reconciliation (reconcile.test.mjs, admin.test.mjs) ---------------------

const utcNow = () => new Date().toISOString().slice(0, 19).replace('T', ' ');

// The merchant's signed request params for method with biz.
function merchantRequest(method, biz) {
  const p = { app_id: APP_ID, method, format: 'JSON', charset: 'utf-8', sign_type: 'RSA2',
    timestamp: utcNow(), version: '1.0', biz_content: JSON.stringify(biz) };
  p.sign = crypto.createSign('RSA-SHA256').update(signingString(p, true), 'utf8')
    .sign(runKey('merchant_private.pem'), 'base64');
  return p;
}

// The bill of day as the sandbox serves it: its data rows (not '#', not the header).
export async function billRows(day) {
  const res = await fetch(`${sandbox}/gateway.do`, { method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded;charset=utf-8' },
    body: new URLSearchParams(merchantRequest('alipay.data.dataservice.bill.downloadurl.query',
      { bill_type: 'trade', bill_date: day })).toString() });
  const answer = (await res.json()).alipay_data_dataservice_bill_downloadurl_query_response;
  assert.equal(answer.code, '10000', JSON.stringify(answer));
  const bill = await (await fetch(answer.bill_download_url)).text();
  return bill.split('\r\n').filter((l) => l && !l.startsWith('#')).slice(1);
}

// A day in 2001..2020 with nothing paid or recorded on it anywhere.
export async function unusedDay() {
  for (;;) {
    const d = new Date(Date.UTC(2001, 0, 1) + crypto.randomInt(7300) * 86400e3);
    const day = d.toISOString().slice(0, 10);
    const ours = count(`SELECT COUNT(*) FROM trade_pay WHERE DATE(paid_time) = '${day}'`) +
      count(`SELECT COUNT(*) FROM trade_refund WHERE DATE(refund_time) = '${day}'`) +
      count(`SELECT COUNT(*) FROM trade_reconcile_diff WHERE day = '${day}'`);
    if (ours === 0 && (await billRows(day)).length === 0) return day;
  }
}

// A trade the sandbox takes money for on day (page pay, then the hook):
// its trade_no.
export async function paidThere(orderId, amount, day) {
  const page = await fetch(`${sandbox}/gateway.do?${new URLSearchParams(merchantRequest(
    'alipay.trade.page.pay', { out_trade_no: String(orderId), product_code: 'FAST_INSTANT_TRADE_PAY',
      total_amount: amount, subject: `reconcile ${orderId}` }))}`);
  assert.equal(page.status, 200, await page.text());
  const res = await fetch(`${sandbox}/test/pay`, { method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ out_trade_no: String(orderId), notify: '0',
      at: `${day} 10:00:00` }).toString() });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.trade_no;
}

// Our trade_pay row, paid on day.
export function paidHere(orderId, tradeNo, amount, day) {
  sql(`INSERT INTO trade_pay (pay_id, order_id, user_id, pay_amount, is_paid, provider, trade_no,
    create_time, paid_time) VALUES (${freshId()}, ${orderId}, 0, ${amount}, 2, 'alipay',
    '${tradeNo}', '${day} 09:59:00', '${day} 10:00:00')`);
}

export function reconcile(...args) {
  return new Promise((resolve) => {
    execFile(join(binDir, 'shop-admin'), ['--config', join(runDir, 'shop.conf'), 'reconcile',
      ...args], { env: process.env }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

// --- chaos: load while faults happen, and the books after (chaos.test.mjs,
// cluster.test.mjs) -----------------------------------------------------------

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
export async function underChaos(t, faults, load, { lanes = 4, min = 0 } = {}) {
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

export const named = (what, f) => Object.assign(f, { what });
export const pause = (ms) => named('pause', () => sleep(ms));

export const byId = (rows) => Object.fromEntries(rows.map(([k, v]) => [k, v]));
export const list = (xs) => xs.join(',');

// The orders of a books test: buyers (each with two 5.00 coupons) order
// goods (at prices) in turn, every third order with one of the buyer's
// coupons (a second use is refused and compensated), every other one paying
// 3.00 from the balance. { goods, users, coupons, stock0, money0 } for
// orderBooks (the stock and balances before, read through the database
// server on port) and place(i): the i-th order's { status, text }.
export function orderMix({ buyers, goods, prices, port = dbPort }) {
  const users = buyers.map((b) => b.id);
  const coupons = buyers.flatMap((b) => b.coupons);
  const stock0 = byId(sqlAt(port, `SELECT goods_id, goods_number FROM trade_goods
    WHERE goods_id IN (${list(goods)})`));
  const money0 = byId(sqlAt(port, `SELECT user_id, user_money FROM trade_user
    WHERE user_id IN (${list(users)})`));
  const place = (i) => {
    const b = buyers[i % buyers.length];
    const k = i % goods.length;
    const opts = i % 3 === 0 ? { couponId: b.coupons[(i >> 3) % 2], couponCents: 500 } : {};
    if (i % 2) opts.pay = 300;
    return api('/api/orders', { method: 'POST', body: orderBody(goods[k], prices[k], 1, opts),
      cookie: b.cookie, csrf: b.csrf }).then((r) => ({ status: r.res.status, text: r.text }));
  };
  return { books: { goods, users, coupons, stock0, money0 }, place };
}

// What does not balance after orders of goods by users with coupons (stock0,
// money0: before; byId rows): for each goods, initial stock minus stock now
// is the units of its confirmed orders; for each buyer, initial balance minus
// balance now is the money_paid of their confirmed orders; each used coupon
// is named by exactly one confirmed order (and each free one by none); no
// order is left unconfirmed. [] when the books balance. Read through the
// database server on port (default: the shop's).
export function orderBooks({ goods, users, coupons, stock0, money0, port = dbPort }) {
  const sql = (q) => sqlAt(port, q);
  const count = (q) => Number(sql(q)[0][0]);
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
}

// What is wrong with paid orders ({ id, user, amount, tradeNo } whose
// notification was acknowledged) of users (score0: their points before):
// each paid once with its trade, one order.paid, applied once by the pay
// consumer, and each user's points grown by what their orders earn. Read
// through the database server on port (default: the shop's).
export function payBooks(orders, users, score0, port = dbPort) {
  const sql = (q) => sqlAt(port, q);
  const ids = list(orders.map((o) => o.id));
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
}

// n confirmed orders of goods g (price cents, 1 to 5 units) by buyers in
// turn, their payments started: { id, user, amount, body (the provider's
// signed notification), tradeNo, acked: false }.
export function notifiedOrders(buyers, g, price, n) {
  return pool(Array.from({ length: n }, (_, i) => async () => {
    const b = buyers[i % buyers.length];
    const r = await api('/api/orders', { method: 'POST', body: orderBody(g, price, 1 + (i % 5), { pay: 0 }),
      cookie: b.cookie, csrf: b.csrf });
    assert.equal(r.res.status, 201, r.text);
    const p = await api(`/api/orders/${r.body.order.order_id}/payment`, { method: 'POST',
      cookie: b.cookie, csrf: b.csrf });
    assert.equal(p.res.status, 200, p.text);
    const note = notification(r.body.order.order_id, p.body.pay_amount);
    return { id: r.body.order.order_id, user: b.id, amount: p.body.pay_amount,
      body: form(signed(note)), tradeNo: note.trade_no, acked: false };
  }), 4);
}
