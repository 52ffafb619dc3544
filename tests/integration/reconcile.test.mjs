// Integration: `shop-admin reconcile DAY` against the real sandbox and
// MariaDB (scripts/services started; ../shared/CONTRACT.md "Reconciliation").
//
// The suites share the database and the sandbox, so every case uses a day
// nobody else uses: a day long past, on which nothing was ever paid on
// either side. The sandbox's trades are paid on that day through its test
// hook (/test/pay with `at`), our trade_pay rows are written by SQL.
//   node --test tests/integration/reconcile.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { join } from 'node:path';
import { APP_ID, binDir, count, freshId, runDir, runKey, signingString, sql } from './shop.mjs';

const sandbox = `http://127.0.0.1:${process.env.SHOP_SANDBOX_PORT || '8081'}`;
const utcNow = () => new Date().toISOString().slice(0, 19).replace('T', ' ');

// The merchant's signed request params for method with biz.
function request(method, biz) {
  const p = { app_id: APP_ID, method, format: 'JSON', charset: 'utf-8', sign_type: 'RSA2',
    timestamp: utcNow(), version: '1.0', biz_content: JSON.stringify(biz) };
  p.sign = crypto.createSign('RSA-SHA256').update(signingString(p, true), 'utf8')
    .sign(runKey('merchant_private.pem'), 'base64');
  return p;
}

// The bill of day as the sandbox serves it: its data rows (not '#', not the header).
async function billRows(day) {
  const res = await fetch(`${sandbox}/gateway.do`, { method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded;charset=utf-8' },
    body: new URLSearchParams(request('alipay.data.dataservice.bill.downloadurl.query',
      { bill_type: 'trade', bill_date: day })).toString() });
  const answer = (await res.json()).alipay_data_dataservice_bill_downloadurl_query_response;
  assert.equal(answer.code, '10000', JSON.stringify(answer));
  const bill = await (await fetch(answer.bill_download_url)).text();
  return bill.split('\r\n').filter((l) => l && !l.startsWith('#')).slice(1);
}

// A day in 2001..2020 with nothing paid or recorded on it anywhere.
async function unusedDay() {
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
async function paidThere(orderId, amount, day) {
  const page = await fetch(`${sandbox}/gateway.do?${new URLSearchParams(request(
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
function paidHere(orderId, tradeNo, amount, day) {
  sql(`INSERT INTO trade_pay (pay_id, order_id, user_id, pay_amount, is_paid, provider, trade_no,
    create_time, paid_time) VALUES (${freshId()}, ${orderId}, 0, ${amount}, 2, 'alipay',
    '${tradeNo}', '${day} 09:59:00', '${day} 10:00:00')`);
}

function reconcile(...args) {
  return new Promise((resolve) => {
    execFile(join(binDir, 'shop-admin'), ['--config', join(runDir, 'shop.conf'), 'reconcile',
      ...args], { env: process.env }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

const diffs = (day) => sql(`SELECT kind, object, trade_no, out_trade_no, our_amount,
  IFNULL(their_amount, '-') FROM trade_reconcile_diff WHERE day = '${day}' ORDER BY kind`);

test('a day with one trade missing on each side and one amount differing: exactly those three',
  async () => {
    const day = await unusedDay();
    const matched = freshId();
    paidHere(matched, await paidThere(matched, '12.34', day), '12.34', day);
    const onlyThere = freshId();
    const onlyThereNo = await paidThere(onlyThere, '5.00', day);
    const onlyHere = freshId();
    const onlyHereNo = `2001${String(onlyHere).padStart(24, '0')}`.slice(0, 28);
    paidHere(onlyHere, onlyHereNo, '7.00', day);
    const differs = freshId();
    const differsNo = await paidThere(differs, '20.00', day);
    paidHere(differs, differsNo, '21.00', day);
    assert.equal((await billRows(day)).length, 3, 'three trades in the bill');

    const r = await reconcile(day);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /1 matched, 1 missing here, 1 missing there, 1 amount differs/);
    assert.match(r.stdout, new RegExp(`missing_here +trade +trade_no=${onlyThereNo} ` +
      `out_trade_no=${onlyThere} ours=- theirs=5\\.00`));
    assert.match(r.stdout, new RegExp(`missing_there +trade +trade_no=${onlyHereNo} ` +
      `out_trade_no=${onlyHere} ours=7\\.00 theirs=-`));
    assert.match(r.stdout, new RegExp(`amount_differs +trade +trade_no=${differsNo} ` +
      `out_trade_no=${differs} ours=21\\.00 theirs=20\\.00`));
    assert.match(r.stderr, /reconcile .*: the bill has 3 rows/, 'progress on stderr');
    const want = [
      ['amount_differs', 'trade', differsNo, String(differs), '21.00', '20.00'],
      ['missing_here', 'trade', onlyThereNo, String(onlyThere), 'NULL', '5.00'],
      ['missing_there', 'trade', onlyHereNo, String(onlyHere), '7.00', '-'],
    ];
    assert.deepEqual(diffs(day), want);
    // Reconciling the same day again records no duplicates.
    const again = await reconcile(day);
    assert.equal(again.code, 1);
    assert.deepEqual(diffs(day), want);
  });

test('a clean day: no differences, exit 0', async () => {
  const day = await unusedDay();
  for (const amount of ['1.00', '88.00']) {
    const id = freshId();
    paidHere(id, await paidThere(id, amount, day), amount, day);
  }
  const r = await reconcile(day);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /2 matched, 0 missing here, 0 missing there, 0 amount differs/);
  assert.equal(diffs(day).length, 0);
});

test('bad usage exits 2; a day the provider has no bill for exits 3', async () => {
  for (const args of [[], ['2026-13-01'], ['2026-02-30'], ['yesterday'], ['2026-01-01', 'x']]) {
    const r = await reconcile(...args);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
  }
  const future = new Date(Date.now() + 3 * 86400e3).toISOString().slice(0, 10);
  const r = await reconcile(future);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /no bill/);
});
