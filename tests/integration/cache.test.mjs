// A cheap catalogue (issue 15): what anonymous visitors load (the catalogue
// page, its searches and later pages, goods pages, GET /api/goods and
// /api/goods/ID) comes from nginx's fastcgi_cache, kept about a second, with
// an ETag that answers If-None-Match with 304; a logged-in buyer's pages are
// never cached nor served to anybody else; a stock change shows within a
// second or two; an order always uses the true stock. Through the real
// nginx (X-Cache-Status tells HIT, MISS, EXPIRED, UPDATING, BYPASS). No
// timing is asserted beyond "eventually".
//   node --test tests/integration/cache.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, buyer, eventually, newGoods, one, orderBody, sql } from './shop.mjs';

const cacheStatus = (r) => r.res.headers.get('x-cache-status');

// Two requests of path in a row until the second is a HIT (the first may
// meet an entry that expired this very moment); the second answer.
async function hit(path, opts = {}) {
  return eventually(async () => {
    await api(path, opts);
    return api(path, opts);
  }, (r) => cacheStatus(r) === 'HIT', 10000, 50);
}

// Everything a page names of a logged-in buyer.
const userName = (b) => one(`SELECT user_name FROM trade_user WHERE user_id = ${b.id}`);

test('an anonymous visitor gets the catalogue, goods pages and GET /api/goods from the cache', async () => {
  const g = newGoods(7, 1250);
  for (const path of ['/', '/?q=goods', `/?after=${g - 1}`, `/goods/${g}`, '/api/goods',
    `/api/goods?limit=3&q=test`, `/api/goods/${g}`]) {
    const r = await hit(path);
    assert.equal(r.res.status, 200, `${path}: ${r.text.slice(0, 200)}`);
    assert.equal(cacheStatus(r), 'HIT', path);
    assert.match(r.res.headers.get('etag') || '', /^(W\/)?"[0-9a-f]{32}"$/, `${path} has an ETag`);
    assert.equal(r.res.headers.get('cache-control'), 'public, no-cache', path);
    assert.equal(r.res.headers.getSetCookie().length, 0, `${path} sets no cookie`);
    // The cached copy still names this request in its header.
    assert.match(r.res.headers.get('x-request-id') || '', /^[0-9a-f]{32}$/);
    assert.doesNotMatch(r.text, /csrf_token|Log out|class="nav-user"/, `${path} is nobody's page`);
  }
  const page = await api(`/goods/${g}`);
  assert.match(page.text, /12\.50/, 'the goods page shows the goods');
  assert.doesNotMatch(page.text, /class="request-id"/, 'a shared page names no request');
});

test('pages that set a cookie or answer an error are never cached', async () => {
  for (const path of ['/login', '/register', '/api/session']) {
    for (let i = 0; i < 3; i++) {
      const r = await api(path);
      assert.equal(r.res.status, 200, path);
      assert.ok(r.res.headers.getSetCookie().length > 0, `${path} sets the pre-session cookie`);
      assert.notEqual(cacheStatus(r), 'HIT', path);
      assert.equal(r.res.headers.get('cache-control'), 'no-store', path);
    }
  }
  for (let i = 0; i < 3; i++) {
    const r = await api('/goods/1234567');
    assert.equal(r.res.status, 404);
    assert.notEqual(cacheStatus(r), 'HIT', 'a 404 is not kept');
    assert.equal(r.res.headers.get('etag'), null);
  }
});

test("a logged-in buyer never gets a cached page, nor anybody else's, nor gives theirs away", async () => {
  const g = newGoods(9, 990);
  const [a, b] = [await buyer({ prefix: 'cachea' }), await buyer({ prefix: 'cacheb' })];
  const [nameA, nameB] = [userName(a), userName(b)];
  for (const path of ['/', `/goods/${g}`, '/api/goods', `/api/goods/${g}`]) {
    await hit(path); // an anonymous copy is in the cache
    for (let round = 0; round < 3; round++) {
      for (const [me, mine, theirs] of [[a, nameA, nameB], [b, nameB, nameA]]) {
        const r = await api(path, { cookie: me.cookie });
        assert.equal(r.res.status, 200, `${path}: ${r.text.slice(0, 200)}`);
        assert.equal(cacheStatus(r), 'BYPASS', `${path} with a session is never from the cache`);
        assert.equal(r.res.headers.get('etag'), null, `${path}: no shared tag on a buyer's answer`);
        assert.equal(r.res.headers.get('cache-control'), 'no-store', path);
        if (!path.startsWith('/api/')) {
          assert.ok(r.text.includes(mine), `${path} names its buyer`);
          assert.ok(r.text.includes(me.csrf), `${path} carries its buyer's CSRF token`);
        }
        assert.ok(!r.text.includes(theirs), `${path} never names another buyer`);
      }
      const anon = await api(path);
      assert.ok(!anon.text.includes(nameA) && !anon.text.includes(nameB),
        `${path}: an anonymous visitor sees no buyer's page`);
      assert.ok(!anon.text.includes(a.csrf) && !anon.text.includes(b.csrf), path);
    }
  }
});

test('an ETag answers If-None-Match with 304 and no body, weak or strong; a changed page with 200', async () => {
  const g = newGoods(5, 700);
  // The tag of the page as it is now (a page made before the goods above
  // may still be served for a moment: then its tag is out of date).
  const current = async (path) => (await api(path)).res.headers.get('etag').replace(/^W\//, '');
  for (const path of ['/', `/goods/${g}`, '/api/goods', `/api/goods/${g}`]) {
    let tag;
    for (const sent of [(t) => t, (t) => `W/${t}`, (t) => `"nope", ${t}`, () => '*']) {
      const r = await eventually(async () => {
        tag = await current(path);
        return api(path, { headers: { 'if-none-match': sent(tag) } });
      }, (x) => x.res.status === 304, 5000, 100);
      assert.equal(r.res.status, 304, `${path} with If-None-Match: ${sent(tag)}`);
      assert.equal(r.text, '', 'no body');
    }
    const other = await api(path, { headers: { 'if-none-match': '"0123"' } });
    assert.equal(other.res.status, 200, `${path}: another tag gets the page`);
    // The same tag from a logged-in buyer (their browser kept the anonymous
    // page): their own page, never 304.
    const b = await buyer({ prefix: 'cachee' });
    const mine = await api(path, { cookie: b.cookie, headers: { 'if-none-match': tag } });
    assert.equal(mine.res.status, 200, `${path}: a buyer's page is never "not modified"`);
  }
  // A change of the goods changes the tag.
  const before = (await api(`/api/goods/${g}`)).res.headers.get('etag').replace(/^W\//, '');
  sql(`UPDATE trade_goods SET goods_number = 4 WHERE goods_id = ${g}`);
  const after = await eventually(() => api(`/api/goods/${g}`, { headers: { 'if-none-match': before } }),
    (r) => r.res.status === 200, 5000, 100);
  assert.equal(after.res.status, 200, 'the changed goods is sent again');
  assert.equal(after.body.goods.goods_number, 4);
});

test('a stock change shows on the anonymous pages within a second or two', async () => {
  const g = newGoods(30, 990);
  await hit(`/goods/${g}`);
  await hit(`/api/goods/${g}`);
  sql(`UPDATE trade_goods SET goods_number = 3 WHERE goods_id = ${g}`);
  const started = Date.now();
  const r = await eventually(() => api(`/api/goods/${g}`), (x) => x.body.goods.goods_number === 3, 5000, 100);
  assert.equal(r.body.goods.goods_number, 3, 'GET /api/goods/ID shows the new stock');
  const p = await eventually(() => api(`/goods/${g}`), (x) => /Only 3 left/.test(x.text), 5000, 100);
  assert.match(p.text, /Only 3 left/, 'the goods page shows the new stock');
  // Generous against a loaded machine; the cache keeps a page about 1 s.
  assert.ok(Date.now() - started < 5000);
});

test('an order uses the true stock, not the cached page: the last item bought twice sells once', async () => {
  const g = newGoods(1, 990);
  const page = await hit(`/api/goods/${g}`);
  assert.equal(page.body.goods.goods_number, 1);
  const [a, b] = [await buyer({ money: 10000 }), await buyer({ money: 10000 })];
  const first = await api('/api/orders', { method: 'POST', cookie: a.cookie, csrf: a.csrf,
    body: orderBody(g, 990, 1) });
  assert.equal(first.res.status, 201, first.text);
  // The cache may still show 1 in stock for a moment; the order does not care.
  const second = await api('/api/orders', { method: 'POST', cookie: b.cookie, csrf: b.csrf,
    body: orderBody(g, 990, 1) });
  assert.equal(second.res.status, 409, second.text);
  assert.equal(second.body.code, 'SHOP_GOODS_NUM_NOT_ENOUGH');
  assert.equal(one(`SELECT goods_number FROM trade_goods WHERE goods_id = ${g}`), '0');
  const shown = await eventually(() => api(`/api/goods/${g}`), (x) => x.body.goods.goods_number === 0, 5000, 100);
  assert.equal(shown.body.goods.goods_number, 0, 'and the page follows');
});
