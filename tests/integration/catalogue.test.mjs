// A catalogue that grows (issue 15): with 10,000 goods, the catalogue page,
// a search, a later page and GET /api/goods each answer 200 with one page,
// and following next walks the pages without a repeat or a gap. The lists of
// a buyer (orders, coupons) are paged the same way. The 10,000 goods are
// loaded with one INSERT ... SELECT and removed at the end, so the suites
// after this one see the shop as before (once the catalogue's cache has let
// go of them: catalogueSettled).
//   node --test tests/integration/catalogue.test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, buyer, catalogueSettled, count, newGoods, sql } from './shop.mjs';

const LOAD = 10000;
// Ids above every other goods of the shop (demo ids are small, test goods
// are about 1e15): the loaded goods are the catalogue's last 10,000.
const BASE = 8000000000000000000n + BigInt(process.pid % 1000) * 1000000n;
const first = BASE + 1n;
const idOf = (k) => String(BASE + BigInt(k)); // k = 1..LOAD
// A word only the loaded goods have (in the description), and one in half of
// their names (the odd ones).
const word = `zqload${process.pid}`;
const half = `zqhalf${process.pid}`;

before(() => {
  sql(`INSERT INTO trade_goods (goods_id, goods_name, goods_number, goods_price, goods_desc)
       SELECT ${BASE} + seq, CONCAT('Load goods ', seq, IF(seq % 2 = 1, ' ${half}', '')),
              seq % 7, 1 + (seq % 300), CONCAT('Catalogue load ${word} number ', seq)
       FROM seq_1_to_${LOAD}`);
  assert.equal(count(`SELECT COUNT(*) FROM trade_goods WHERE goods_id > ${BASE}`), LOAD);
});
after(async () => {
  sql(`DELETE FROM trade_goods WHERE goods_id > ${BASE} AND goods_id <= ${BASE + BigInt(LOAD)}`);
  await catalogueSettled();
});

// The goods ids of a catalogue page, in page order.
const cardIds = (html) => [...html.matchAll(/class="goods-card" data-goods-id="(\d+)"/g)].map((m) => m[1]);
// The page's "Next" link (a plain <a>, no JavaScript), as a path.
function nextLink(html) {
  const m = html.match(/<a class="button" rel="next" href="([^"]+)">Next<\/a>/);
  return m ? m[1].replaceAll('&amp;', '&') : null;
}

test('with 10,000 goods the catalogue page answers 200 with one page and a Next link', async () => {
  const r = await api('/');
  assert.equal(r.res.status, 200, r.text.slice(0, 300));
  const ids = cardIds(r.text);
  assert.equal(ids.length, 20, 'one page of the default size');
  const link = nextLink(r.text);
  assert.ok(link && link.startsWith('/?after='), 'a Next link');
  const r2 = await api(link);
  assert.equal(r2.res.status, 200);
  const ids2 = cardIds(r2.text);
  assert.equal(ids2.length, 20);
  assert.ok(BigInt(ids2[0]) > BigInt(ids[19]), 'the next page starts after the first');
});

test('/?after= a goods in the middle shows the 20 goods after it', async () => {
  const r = await api(`/?after=${idOf(5000)}`);
  assert.equal(r.res.status, 200);
  assert.deepEqual(cardIds(r.text), Array.from({ length: 20 }, (_, i) => idOf(5001 + i)));
  assert.equal(nextLink(r.text), `/?after=${idOf(5020)}`);
});

test('following Next from page to page walks the goods without a repeat or a gap', async () => {
  let link = `/?after=${BASE}&limit=100`;
  let k = 0;
  for (let page = 0; page < 5; page++) {
    const r = await api(link);
    assert.equal(r.res.status, 200);
    assert.deepEqual(cardIds(r.text), Array.from({ length: 100 }, (_, i) => idOf(k + i + 1)));
    k += 100;
    link = nextLink(r.text);
    assert.equal(link, `/?after=${idOf(k)}&limit=100`);
  }
});

test('GET /api/goods answers one page; following next walks without a repeat or a gap', async () => {
  const r = await api('/api/goods');
  assert.equal(r.res.status, 200);
  assert.equal(r.body.success, true);
  assert.equal(r.body.goods.length, 20);
  assert.equal(typeof r.body.next, 'string');
  // From just before the loaded goods: 30 pages of 100, then the last page.
  let next = String(BASE);
  const seen = [];
  for (let page = 0; page < 30; page++) {
    const p = await api(`/api/goods?limit=100&after=${next}`);
    assert.equal(p.res.status, 200, p.text);
    assert.equal(p.body.goods.length, 100);
    seen.push(...p.body.goods.map((g) => g.goods_id));
    next = p.body.next;
  }
  assert.deepEqual(seen, Array.from({ length: 3000 }, (_, i) => idOf(i + 1)));
  assert.equal(next, idOf(3000));
  const last = await api(`/api/goods?limit=100&after=${idOf(LOAD - 50)}`);
  assert.equal(last.res.status, 200);
  assert.deepEqual(last.body.goods.map((g) => g.goods_id), Array.from({ length: 50 }, (_, i) => idOf(LOAD - 49 + i)));
  assert.equal(last.body.next, null, 'the last page has no next');
  // The goods of a page are the goods as the contract shows them.
  const g = last.body.goods[0];
  assert.equal(g.goods_name, `Load goods ${LOAD - 49}${(LOAD - 49) % 2 ? ` ${half}` : ''}`);
  assert.match(g.goods_price, /^\d+\.\d\d$/);
});

test('/?q= searches name and description and is paged the same way', async () => {
  const r = await api(`/?q=${word}`);
  assert.equal(r.res.status, 200);
  assert.deepEqual(cardIds(r.text), Array.from({ length: 20 }, (_, i) => idOf(i + 1)));
  assert.match(r.text, new RegExp(`value="${word}"`), 'the search box shows the search');
  assert.equal(nextLink(r.text), `/?after=${idOf(20)}&q=${word}`);
  // Two words: both must match (the odd goods have the second in the name);
  // a word may be the start of a longer one.
  let next = null;
  const seen = [];
  for (let page = 0; page < 10; page++) {
    const q = encodeURIComponent(`${word} ${half.slice(0, -2)}`);
    const p = await api(`/api/goods?q=${q}&limit=100${next ? `&after=${next}` : ''}`);
    assert.equal(p.res.status, 200, p.text);
    assert.equal(p.body.goods.length, 100);
    seen.push(...p.body.goods.map((g) => g.goods_id));
    next = p.body.next;
  }
  assert.deepEqual(seen, Array.from({ length: 1000 }, (_, i) => idOf(2 * i + 1)));
  const none = await api(`/?q=zqnothing${process.pid}`);
  assert.equal(none.res.status, 200);
  assert.deepEqual(cardIds(none.text), []);
  assert.match(none.text, /No goods match your search/);
});

test('a bad limit, cursor or search is a 400 with its own code', async () => {
  for (const limit of ['0', '101', 'x', '-1', '1.5', '']) {
    const r = await api(`/api/goods?limit=${limit}`);
    assert.equal(r.res.status, 400, `limit=${limit}`);
    assert.equal(r.body.code, 'SHOP_LIST_LIMIT_INVALID');
  }
  for (const after of ['abc', '-5', '01', '1.2', '%00', 'x'.repeat(100)]) {
    const r = await api(`/api/goods?after=${after}`);
    assert.equal(r.res.status, 400, `after=${after}`);
    assert.equal(r.body.code, 'SHOP_LIST_CURSOR_INVALID');
  }
  const long = await api(`/api/goods?q=${'a'.repeat(101)}`);
  assert.equal(long.res.status, 400);
  assert.equal(long.body.code, 'SHOP_SEARCH_INVALID');
  assert.equal((await api(`/api/goods?q=${'a'.repeat(100)}`)).res.status, 200, '100 characters are a search');
  const page = await api('/?limit=500');
  assert.equal(page.res.status, 400);
  assert.match(page.text, /limit must be a whole number from 1 to 100/);
});

test("a buyer's coupons are paged, unused first, on the API and the account page", async () => {
  const b = await buyer({ coupons: Array.from({ length: 25 }, (_, i) => 100 + i) });
  const used = b.coupons.slice(0, 5);
  sql(`UPDATE trade_coupon SET is_used = 1 WHERE coupon_id IN (${used.join(',')})`);
  const seen = [];
  let next = null;
  for (let page = 0; page < 3; page++) {
    const r = await api(`/api/coupons?limit=10${next ? `&after=${next}` : ''}`, { cookie: b.cookie });
    assert.equal(r.res.status, 200, r.text);
    seen.push(...r.body.coupons);
    next = r.body.next;
  }
  assert.equal(next, null);
  const unusedIds = b.coupons.slice(5).sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : 1));
  const usedIds = [...used].sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : 1));
  assert.deepEqual(seen.map((c) => c.coupon_id), [...unusedIds, ...usedIds], 'every coupon once, unused first');
  const bad = await api('/api/coupons?after=2.1', { cookie: b.cookie });
  assert.equal(bad.body.code, 'SHOP_LIST_CURSOR_INVALID');
  // The account page: a page of coupons and a Next link to the rest.
  const acc = await api('/account?limit=20', { cookie: b.cookie });
  assert.equal(acc.res.status, 200);
  const link = nextLink(acc.text);
  assert.ok(link && link.startsWith('/account?after='), 'a Next link');
  const rest = await api(link, { cookie: b.cookie });
  assert.equal(rest.res.status, 200);
  const rows = [...rest.text.matchAll(/<tr data-coupon-id="(\d+)"/g)].map((m) => m[1]);
  assert.deepEqual(rows, usedIds, 'the second page holds the rest');
});

test("a buyer's orders are paged newest first on the API and the My orders page", async () => {
  const g = newGoods(10, 990);
  const b = await buyer({ money: 100000 });
  const made = [];
  for (let i = 0; i < 3; i++) {
    const r = await api('/api/orders', {
      method: 'POST', cookie: b.cookie, csrf: b.csrf,
      body: { goods_id: String(g), goods_number: 1, goods_price: '9.90', shipping_fee: '10.00',
        order_amount: '19.90', money_paid: '19.90', address: '1 Test Street', consignee: 'Tess' },
    });
    assert.equal(r.res.status, 201, r.text);
    made.push(r.body.order.order_id);
  }
  const seen = [];
  let next = null;
  for (let page = 0; page < 3; page++) {
    const r = await api(`/api/orders?limit=1${next ? `&after=${next}` : ''}`, { cookie: b.cookie });
    assert.equal(r.res.status, 200, r.text);
    assert.equal(r.body.orders.length, 1);
    seen.push(r.body.orders[0].order_id);
    next = r.body.next;
  }
  assert.deepEqual(seen, [...made].reverse(), 'newest first, each once');
  const end = await api(`/api/orders?limit=1&after=${seen[2]}`, { cookie: b.cookie });
  assert.deepEqual(end.body.orders, []);
  assert.equal(end.body.next, null);
  const page = await api('/orders?limit=2', { cookie: b.cookie });
  assert.equal(page.res.status, 200);
  assert.equal(nextLink(page.text), `/orders?after=${seen[1]}&limit=2`);
  const rest = await api(nextLink(page.text), { cookie: b.cookie });
  assert.match(rest.text, new RegExp(`data-order-id="${made[0]}"`));
  assert.equal(nextLink(rest.text), null, 'no Next on the last page');
});
