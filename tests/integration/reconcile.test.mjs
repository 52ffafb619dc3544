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
import { billRows, freshId, paidHere, paidThere, reconcile, sql, unusedDay } from './shop.mjs';

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
