// Integration: the operators' console (CONTRACT.md, "Operators") through
// nginx, the app, MariaDB, RabbitMQ and the consumers: /admin and
// /api/admin/... are 404 for anonymous callers and buyers; the order search
// (id, user by name or mobile, status, dates) pages by cursor, at most 50
// rows, no row twice; an order's detail shows its timeline, payments and the
// consumer-log rows of its messages; goods are created, edited and their
// stock adjusted with a reason; coupons are issued; every action is in the
// operators' log with the operator's name, and an amount mismatch resolved
// with a note on the order's timeline with it, refunds approved, rejected and
// retried from /admin/refunds (timeline too), reconciliation differences
// listed (50 a page) and resolved with a note; parked messages listed (left
// in place), replayed and discarded; forms without the CSRF token are
// refused. The demo operator is admin / admin-pass-1.
//   node --test tests/integration/admin.test.mjs
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, base, buyer, newGoods, orderBody, prePost, publish, pool, sql, one, count,
  eventually, paidOrder, sandboxPost, sandboxRefunds, freshId, paidHere, paidThere, reconcile,
  unusedDay } from './shop.mjs';

async function operator() {
  const r = await prePost('/api/session', { login: 'admin', password: 'admin-pass-1' });
  assert.equal(r.res.status, 200, r.text);
  const line = r.res.headers.getSetCookie().find((l) => l.startsWith('shop_session='));
  return { cookie: line.split(';')[0], csrf: r.body.csrf_token };
}

// A urlencoded form POST as the console's pages send it (not following the
// redirect); csrf: the session's token, or none.
async function form(path, fields, who, csrf = who.csrf) {
  const body = new URLSearchParams(csrf ? { ...fields, csrf_token: csrf } : fields).toString();
  const res = await fetch(base + path, {
    method: 'POST', body, redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: who.cookie },
  });
  return { res, text: await res.text() };
}

const nameOf = (id) => sql(`SELECT user_name, user_mobile FROM trade_user WHERE user_id = ${id}`)[0];
const auditRows = (target) => sql(`SELECT operator_name, action, detail FROM trade_admin_log
  WHERE target_id = ${target} ORDER BY admin_log_id`);

const madeGoods = [];
after(() => {
  if (!madeGoods.length) return;
  const ids = madeGoods.join(',');
  sql(`DELETE FROM trade_goods_stock_adjust WHERE goods_id IN (${ids});
       DELETE FROM trade_goods WHERE goods_id IN (${ids})`);
});

const GETS = ['/admin', '/admin/orders/1', '/admin/goods', '/admin/goods/1001',
  '/admin/mismatches', '/admin/refunds', '/admin/refunds?status=failed',
  '/admin/reconcile', '/admin/reconcile?day=2020-01-01', '/admin/parked', '/admin/parked?queue=shop.goods', '/api/admin/orders',
  '/api/admin/orders/1', '/api/admin/mismatches', '/api/admin/parked?queue=shop.goods'];
const POSTS = ['/admin/goods', '/admin/goods/1001', '/admin/goods/1001/stock', '/admin/coupons',
  '/admin/mismatches/1', '/admin/refunds/1', '/admin/reconcile/1', '/admin/parked/replay', '/admin/parked/discard'];

test('every /admin and /api/admin route is 404 for anonymous callers and for buyers', async () => {
  const b = await buyer({ prefix: 'notop' });
  for (const who of [{ cookie: '' }, b]) {
    for (const path of GETS) {
      const r = await api(path, { cookie: who.cookie });
      assert.equal(r.res.status, 404, `GET ${path}`);
    }
    for (const path of POSTS) {
      const r = await form(path, { goods_name: 'x', goods_price: '1.00', goods_number: '1' }, who,
        who.csrf);
      assert.equal(r.res.status, 404, `POST ${path}`);
    }
  }
  const admin = await operator();
  const r = await api('/admin', { cookie: admin.cookie });
  assert.equal(r.res.status, 200);
  assert.match(r.text, /id="order-search"/);
  const home = await api('/', { cookie: admin.cookie });
  assert.match(home.text, /href="\/admin"/, 'the operator sees the console in the menu');
  const buyerHome = await api('/', { cookie: b.cookie });
  assert.doesNotMatch(buyerHome.text, /href="\/admin"/);
});

test('search: by user (name or mobile), order id, status and date; pages of at most 50, newest first, no row twice', async () => {
  const g = newGoods(100, 100);
  const b = await buyer({ money: 60000, prefix: 'many' });
  const made = await pool(Array.from({ length: 51 }, () => async () => {
    const r = await api('/api/orders', { method: 'POST', body: orderBody(g, 100, 1), cookie: b.cookie,
      csrf: b.csrf });
    assert.equal(r.res.status, 201, r.text);
    return r.body.order.order_id;
  }), 3);
  const admin = await operator();
  const [name, mobile] = nameOf(b.id);

  const first = await api(`/api/admin/orders?user=${name}&limit=50`, { cookie: admin.cookie });
  assert.equal(first.res.status, 200, first.text);
  assert.equal(first.body.orders.length, 50);
  assert.ok(first.body.next);
  const second = await api(`/api/admin/orders?user=${name}&limit=50&after=${first.body.next}`,
    { cookie: admin.cookie });
  assert.equal(second.body.orders.length, 1);
  assert.equal(second.body.next, null);
  const ids = [...first.body.orders, ...second.body.orders].map((o) => o.order_id);
  assert.equal(new Set(ids).size, 51, 'no order twice');
  assert.deepEqual([...ids].sort(), [...made].sort());
  const sorted = [...ids].sort((x, y) => (BigInt(y) > BigInt(x) ? 1 : -1));
  assert.deepEqual(ids, sorted, 'newest first');

  const byMobile = await api(`/api/admin/orders?user=${mobile}&limit=5`, { cookie: admin.cookie });
  assert.deepEqual(byMobile.body.orders.map((o) => o.order_id), ids.slice(0, 5));
  const byId = await api(`/api/admin/orders?order=${made[7]}`, { cookie: admin.cookie });
  assert.deepEqual(byId.body.orders.map((o) => o.order_id), [made[7]]);
  const confirmed = await api(`/api/admin/orders?user=${name}&status=1&limit=50`, { cookie: admin.cookie });
  assert.equal(confirmed.body.orders.length, 50);
  const cancelled = await api(`/api/admin/orders?user=${name}&status=2`, { cookie: admin.cookie });
  assert.equal(cancelled.body.orders.length, 0);
  const today = new Date().toISOString().slice(0, 10);
  const dated = await api(`/api/admin/orders?user=${name}&from=${today}&to=${today}&limit=3`,
    { cookie: admin.cookie });
  assert.equal(dated.body.orders.length, 3);
  const past = await api(`/api/admin/orders?user=${name}&to=2020-01-01`, { cookie: admin.cookie });
  assert.equal(past.body.orders.length, 0);
  const nobody = await api('/api/admin/orders?user=nobody_at_all_here', { cookie: admin.cookie });
  assert.equal(nobody.body.orders.length, 0);

  for (const bad of ['limit=51', 'from=2026-1-1', 'status=9', 'order=12x', 'after=-1']) {
    const r = await api(`/api/admin/orders?${bad}`, { cookie: admin.cookie });
    assert.equal(r.res.status, 400, bad);
    assert.equal(r.body.success, false);
  }

  // The page: 50 rows and a Next link that keeps the search, then the last one.
  const page = await api(`/admin?user=${name}&limit=50`, { cookie: admin.cookie });
  assert.equal((page.text.match(/<tr data-order-id=/g) || []).length, 50);
  const next = page.text.match(/rel="next" href="([^"]+)"/)[1].replace(/&amp;/g, '&');
  assert.match(next, new RegExp(`user=${name}`));
  const page2 = await api(next, { cookie: admin.cookie });
  assert.equal((page2.text.match(/<tr data-order-id=/g) || []).length, 1);
  assert.doesNotMatch(page2.text, /rel="next"/);
});

test("an order's detail: timeline, payment rows and the consumer-log rows of its messages", async () => {
  const g = newGoods(10, 2500);
  const b = await buyer({ prefix: 'detail' });
  const placed = await api('/api/orders', { method: 'POST', body: orderBody(g, 2500, 1, { pay: 0 }),
    cookie: b.cookie, csrf: b.csrf });
  assert.equal(placed.res.status, 201, placed.text);
  const o = placed.body.order.order_id;
  const pay = await api(`/api/orders/${o}/payment`, { method: 'POST', cookie: b.cookie, csrf: b.csrf });
  assert.equal(pay.res.status, 200, pay.text);
  publish('order.cancel', `order.cancel:${o}`, { order_id: o, user_id: String(b.id),
    goods_id: String(g), goods_number: 1, coupon_id: null, money_paid: '0.00',
    reason: 'SHOP_USER_MONEY_REDUCE_FAIL' });
  await eventually(() => count(`SELECT COUNT(*) FROM trade_mq_consumer_log WHERE msg_key = '${o}'
    AND msg_tag = 'order.cancel'`), (n) => n >= 4);
  await eventually(() => count(`SELECT COUNT(*) FROM trade_order_log WHERE order_id = ${o}
    AND event = 'order.cancel'`), (n) => n === 1);

  const admin = await operator();
  const r = await api(`/api/admin/orders/${o}`, { cookie: admin.cookie });
  assert.equal(r.res.status, 200, r.text);
  assert.equal(r.body.order.order_id, o);
  assert.equal(r.body.order.order_status, 2);
  assert.deepEqual(r.body.order.payments.map((p) => [p.pay_amount, p.is_paid]), [['35.00', '1']]);
  const groups = r.body.order.messages.filter((m) => m.msg_tag === 'order.cancel')
    .map((m) => m.group_name).sort();
  for (const gname of ['goods', 'order', 'user', 'log']) assert.ok(groups.includes(gname), gname);
  assert.ok(r.body.order.history.length >= 2);

  const page = await api(`/admin/orders/${o}`, { cookie: admin.cookie });
  assert.equal(page.res.status, 200);
  assert.match(page.text, /id="history"/);
  const payId = one(`SELECT pay_id FROM trade_pay WHERE order_id = ${o}`);
  assert.match(page.text, new RegExp(`<td class="mono">${payId}</td><td class="money">35.00</td>`));
  assert.match(page.text, /35\.00/);
  assert.match(page.text, /order\.cancel/);
  assert.equal((await api('/api/admin/orders/12345', { cookie: admin.cookie })).res.status, 404);
});

test('goods: create, edit (the catalogue shows it), adjust stock with a reason; each in the operators\' log', async () => {
  const admin = await operator();
  const name = `Console goods ${Date.now()}`;
  let r = await form('/admin/goods', { goods_name: name, goods_desc: 'made in the console',
    goods_price: '12.50', goods_number: '7' }, admin);
  assert.equal(r.res.status, 303, r.text);
  const id = r.res.headers.get('location').match(/^\/admin\/goods\/(\d+)\?done=created$/)[1];
  madeGoods.push(id);
  assert.deepEqual(sql(`SELECT goods_name, goods_price, goods_number, goods_desc FROM trade_goods
    WHERE goods_id = ${id}`)[0], [name, '12.50', '7', 'made in the console']);

  r = await form(`/admin/goods/${id}`, { goods_name: `${name} v2`, goods_desc: 'edited',
    goods_price: '9.90' }, admin);
  assert.equal(r.res.status, 303, r.text);
  const shown = await api(`/api/goods/${id}`);
  assert.equal(shown.body.goods.goods_price, '9.90');
  assert.equal(shown.body.goods.goods_name, `${name} v2`);

  r = await form(`/admin/goods/${id}/stock`, { delta: '5', reason: 'delivery 42' }, admin);
  assert.equal(r.res.status, 303, r.text);
  r = await form(`/admin/goods/${id}/stock`, { delta: '-2', reason: 'broken in the store' }, admin);
  assert.equal(r.res.status, 303, r.text);
  assert.equal(one(`SELECT goods_number FROM trade_goods WHERE goods_id = ${id}`), '10');
  assert.deepEqual(sql(`SELECT delta, stock_after, reason, operator_name FROM trade_goods_stock_adjust
    WHERE goods_id = ${id} ORDER BY adjust_id`),
  [['5', '12', 'delivery 42', 'admin'], ['-2', '10', 'broken in the store', 'admin']]);

  // Refusals: below 0, bad input, no reason, no CSRF token; nothing changes.
  r = await form(`/admin/goods/${id}/stock`, { delta: '-11', reason: 'too many' }, admin);
  assert.equal(r.res.status, 409);
  assert.match(r.text, /cannot go below 0/);
  for (const [path, fields] of [
    [`/admin/goods/${id}/stock`, { delta: '0', reason: 'x' }],
    [`/admin/goods/${id}/stock`, { delta: '3', reason: '' }],
    [`/admin/goods/${id}/stock`, { delta: '3', reason: 'r'.repeat(201) }],
    [`/admin/goods/${id}`, { goods_name: 'x', goods_price: '1.234' }],
    [`/admin/goods/${id}`, { goods_name: '', goods_price: '1.00' }],
    ['/admin/goods', { goods_name: 'y', goods_price: '1.00', goods_number: '-1' }],
    ['/admin/goods', { goods_name: 'n'.repeat(256), goods_price: '1.00', goods_number: '1' }],
  ]) {
    r = await form(path, fields, admin);
    assert.equal(r.res.status, 400, `${path} ${JSON.stringify(fields)}`);
    assert.match(r.text, /role="alert"/);
  }
  r = await form(`/admin/goods/${id}`, { goods_name: 'stolen', goods_price: '0.01' }, admin, null);
  assert.equal(r.res.status, 403);
  assert.equal(one(`SELECT goods_price FROM trade_goods WHERE goods_id = ${id}`), '9.90');
  assert.equal(one(`SELECT goods_number FROM trade_goods WHERE goods_id = ${id}`), '10');

  const log = auditRows(id);
  assert.deepEqual(log.map(([op, action]) => [op, action]), [['admin', 'goods.create'],
    ['admin', 'goods.edit'], ['admin', 'goods.stock'], ['admin', 'goods.stock']]);
  assert.match(log[1][2], /price 9\.90 \(was 12\.50\)/);
  const page = await api(`/admin/goods/${id}`, { cookie: admin.cookie });
  assert.match(page.text, /delivery 42/);
  assert.match(page.text, /id="goods-price">9\.90</);
});

test('coupons: issued to a user by name, the buyer sees it, the operators\' log has it', async () => {
  const b = await buyer({ prefix: 'gift' });
  const [name] = nameOf(b.id);
  const admin = await operator();
  let r = await form('/admin/coupons', { user: name, amount: '7.50' }, admin);
  assert.equal(r.res.status, 303, r.text);
  const mine = await api('/api/coupons', { cookie: b.cookie });
  assert.deepEqual(mine.body.coupons.map((c) => c.coupon_price), ['7.50']);
  const cid = mine.body.coupons[0].coupon_id;
  assert.deepEqual(auditRows(cid).map(([op, action]) => [op, action]), [['admin', 'coupon.issue']]);
  for (const fields of [{ user: 'nobody_such_user', amount: '1.00' }, { user: name, amount: '0' },
    { user: name, amount: '1,00' }]) {
    r = await form('/admin/coupons', fields, admin);
    assert.equal(r.res.status, 400, JSON.stringify(fields));
  }
  r = await form('/admin/coupons', { user: name, amount: '5.00' }, admin, null);
  assert.equal(r.res.status, 403);
  assert.equal(count(`SELECT COUNT(*) FROM trade_coupon WHERE user_id = ${b.id}`), 1);
});

test('amount mismatches: listed while open, resolved with a note that the order\'s timeline shows with the operator\'s name', async () => {
  const g = newGoods(10, 2000);
  const b = await buyer({ prefix: 'mism' });
  const placed = await api('/api/orders', { method: 'POST', body: orderBody(g, 2000, 1, { pay: 0 }),
    cookie: b.cookie, csrf: b.csrf });
  assert.equal(placed.res.status, 201, placed.text);
  const o = placed.body.order.order_id;
  const tradeNo = `2026${Date.now()}`;
  // What the pay consumer records for a notification of the wrong amount
  // (paying.test.mjs drives that part end to end).
  sql(`INSERT INTO trade_pay_mismatch (order_id, trade_no, reason, notify_amount, expected_amount)
       VALUES (${o}, '${tradeNo}', 'amount', 0.60, 30.00)`);
  const admin = await operator();
  const listed = await api('/api/admin/mismatches', { cookie: admin.cookie });
  assert.ok(listed.body.mismatches.some((m) => m.order_id === o && m.trade_no === tradeNo
    && m.notify_amount === '0.60' && m.expected_amount === '30.00'));
  const page = await api('/admin/mismatches', { cookie: admin.cookie });
  assert.match(page.text, new RegExp(`value="${tradeNo}"`));

  let r = await form(`/admin/mismatches/${o}`, { trade_no: tradeNo, note: '' }, admin);
  assert.equal(r.res.status, 400);
  r = await form(`/admin/mismatches/${o}`, { trade_no: tradeNo, note: 'refunded 0.60 at the provider' },
    admin, null);
  assert.equal(r.res.status, 403);
  r = await form(`/admin/mismatches/${o}`, { trade_no: tradeNo, note: 'refunded 0.60 at the provider' },
    admin);
  assert.equal(r.res.status, 303, r.text);
  assert.deepEqual(sql(`SELECT resolved, resolve_note, resolved_by FROM trade_pay_mismatch
    WHERE order_id = ${o}`)[0], ['1', 'refunded 0.60 at the provider', 'admin']);
  r = await form(`/admin/mismatches/${o}`, { trade_no: tradeNo, note: 'again' }, admin);
  assert.equal(r.res.status, 404, 'resolved once');
  const after1 = await api('/api/admin/mismatches', { cookie: admin.cookie });
  assert.ok(!after1.body.mismatches.some((m) => m.order_id === o));
  const detail = await api(`/api/admin/orders/${o}`, { cookie: admin.cookie });
  const line = detail.body.order.history.map((h) => h.what)
    .find((w) => w.includes('Amount mismatch'));
  assert.equal(line, `Amount mismatch of trade ${tradeNo} resolved: refunded 0.60 at the provider (by operator admin)`);
  sql(`DELETE FROM trade_pay_mismatch WHERE order_id = ${o}`);
});

// A paid order whose buyer asked for a refund: { order, id } (the refund's).
async function requestedRefund(prefix) {
  const b = await buyer({ prefix });
  const { order } = await paidOrder(b, 1200);
  const r = await api(`/api/orders/${order.order_id}/refund`, { method: 'POST',
    body: { reason: 'changed my mind' }, cookie: b.cookie, csrf: b.csrf });
  assert.equal(r.res.status, 202, r.text);
  return { order, id: r.body.refund.refund_id };
}

const refundState = (id) => sql(`SELECT refund_status, last_error FROM trade_refund
  WHERE refund_id = ${id}`)[0];
const timeline = async (who, o) => (await api(`/api/admin/orders/${o}`, { cookie: who.cookie }))
  .body.order.history.map((h) => h.what);
// The operators' decisions on refund id on the order's timeline, oldest first.
const decisions = async (who, o, id) => (await timeline(who, o))
  .filter((w) => w.startsWith(`Refund ${id} `));

test('refunds: listed newest first by status; approve, reject and retry from the page, each on the order\'s timeline with the operator\'s name', async () => {
  const admin = await operator();
  const ok = await requestedRefund('rfok');
  const no = await requestedRefund('rfno');
  let page = await api('/admin/refunds?status=requested', { cookie: admin.cookie });
  assert.equal(page.res.status, 200);
  const at = (id) => page.text.indexOf(`data-refund-id="${id}"`);
  assert.ok(at(ok.id) > 0 && at(no.id) > 0 && at(no.id) < at(ok.id), 'newest first');
  assert.match(page.text, /value="approve"/);
  assert.equal((await api('/admin/refunds?status=nonsense', { cookie: admin.cookie })).res.status, 400);

  let r = await form(`/admin/refunds/${ok.id}`, { action: 'approve' }, admin, null);
  assert.equal(r.res.status, 403);
  r = await form(`/admin/refunds/${ok.id}`, { action: 'refund-twice' }, admin);
  assert.equal(r.res.status, 400);
  r = await form(`/admin/refunds/${ok.id}`, { action: 'approve', note: 'agreed by phone' }, admin);
  assert.equal(r.res.status, 303, r.text);
  // Committed with the decision: there as soon as the page answers, once.
  assert.deepEqual(await decisions(admin, ok.order.order_id, ok.id),
    [`Refund ${ok.id} approved: agreed by phone (by operator admin)`]);
  await eventually(() => refundState(ok.id)[0], (x) => x === 'succeeded', 40000);
  assert.equal((await sandboxRefunds(ok.order.order_id)).length, 1);
  r = await form(`/admin/refunds/${ok.id}`, { action: 'approve' }, admin);
  assert.equal(r.res.status, 409, 'approved once');

  r = await form(`/admin/refunds/${no.id}`, { action: 'reject', note: '' }, admin);
  assert.equal(r.res.status, 303, r.text);
  assert.equal(refundState(no.id)[0], 'rejected');
  assert.deepEqual(await sandboxRefunds(no.order.order_id), []);
  assert.deepEqual(await decisions(admin, no.order.order_id, no.id),
    [`Refund ${no.id} rejected (by operator admin)`]);

  const bad = await requestedRefund('rffail');
  const hook = await sandboxPost('/test/next-refund-fails', { sub_code: 'ACQ.SELLER_BALANCE_NOT_ENOUGH' });
  assert.ok(hook.status < 400, `${hook.status} ${hook.text}`);
  r = await form(`/admin/refunds/${bad.id}`, { action: 'approve' }, admin);
  assert.equal(r.res.status, 303, r.text);
  await eventually(() => refundState(bad.id)[0], (x) => x === 'failed', 40000);
  page = await api('/admin/refunds?status=failed', { cookie: admin.cookie });
  assert.ok(at(bad.id) > 0);
  assert.match(page.text, /ACQ\.SELLER_BALANCE_NOT_ENOUGH/);
  assert.match(page.text, /value="retry"/);
  r = await form(`/admin/refunds/${bad.id}`, { action: 'retry', note: 'balance topped up' }, admin);
  assert.equal(r.res.status, 303, r.text);
  await eventually(() => refundState(bad.id)[0], (x) => x === 'succeeded', 40000);
  assert.equal((await sandboxRefunds(bad.order.order_id)).length, 1);
  assert.deepEqual(await decisions(admin, bad.order.order_id, bad.id),
    [`Refund ${bad.id} approved (by operator admin)`,
      `Refund ${bad.id} retried: balance topped up (by operator admin)`]);
});

test('reconciliation: a reconciled day\'s differences listed, one resolved with a note in the operators\' log', async () => {
  const day = await unusedDay();
  const here = freshId();
  const hereNo = `2001${String(here).padStart(24, '0')}`.slice(0, 28);
  paidHere(here, hereNo, '7.00', day);
  const differs = freshId();
  paidHere(differs, await paidThere(differs, '20.00', day), '21.00', day);
  const rec = await reconcile(day);
  assert.equal(rec.code, 1, rec.stderr);
  const admin = await operator();
  let page = await api(`/admin/reconcile?day=${day}`, { cookie: admin.cookie });
  assert.equal(page.res.status, 200);
  assert.match(page.text, new RegExp(`missing_there[\\s\\S]*${hereNo}[\\s\\S]*7\\.00`));
  assert.match(page.text, /amount_differs[\s\S]*21\.00[\s\S]*20\.00/);
  assert.equal((await api('/admin/reconcile?day=2020-13-45', { cookie: admin.cookie })).res.status, 400);
  const id = one(`SELECT id FROM trade_reconcile_diff WHERE day = '${day}' AND kind = 'missing_there'`);
  assert.match(page.text, new RegExp(`action="/admin/reconcile/${id}"`));
  let r = await form(`/admin/reconcile/${id}`, { note: '' }, admin);
  assert.equal(r.res.status, 400);
  r = await form(`/admin/reconcile/${id}`, { note: 'test payment, booked by hand' }, admin, null);
  assert.equal(r.res.status, 403);
  r = await form(`/admin/reconcile/${id}`, { note: 'test payment, booked by hand' }, admin);
  assert.equal(r.res.status, 303, r.text);
  assert.deepEqual(sql(`SELECT resolved, note FROM trade_reconcile_diff WHERE id = ${id}`)[0],
    ['1', 'test payment, booked by hand']);
  r = await form(`/admin/reconcile/${id}`, { note: 'again' }, admin);
  assert.equal(r.res.status, 404, 'resolved once');
  assert.deepEqual(auditRows(id).at(-1), ['admin', 'reconcile.resolve', 'test payment, booked by hand']);
  page = await api(`/admin/reconcile?day=${day}`, { cookie: admin.cookie });
  assert.doesNotMatch(page.text, new RegExp(`action="/admin/reconcile/${id}"`));
  assert.match(page.text, /test payment, booked by hand/);
});

test('reconciliation: more than 50 differences of a day are paged, 50 a page, each once', async () => {
  const day = await unusedDay();
  const rows = Array.from({ length: 53 }, (_, i) =>
    `('${day}', 'missing_there', 'trade', 'page-${day}-${i}', '${freshId()}', '', 1.00, NULL)`);
  sql(`INSERT INTO trade_reconcile_diff (day, kind, object, trade_no, out_trade_no,
    out_request_no, our_amount, their_amount) VALUES ${rows.join(', ')}`);
  const all = sql(`SELECT id FROM trade_reconcile_diff WHERE day = '${day}' ORDER BY id`)
    .map((r) => r[0]);
  assert.equal(all.length, 53);
  const admin = await operator();
  const ids = (text) => [...text.matchAll(/data-diff-id="(\d+)"/g)].map((m) => m[1]);
  const nextOf = (text) => text.match(/rel="next" href="([^"]+)"/)?.[1].replaceAll('&amp;', '&');
  const first = await api(`/admin/reconcile?day=${day}`, { cookie: admin.cookie });
  assert.equal(first.res.status, 200);
  assert.deepEqual(ids(first.text), all.slice(0, 50));
  const next = nextOf(first.text);
  assert.ok(next, 'a next link');
  assert.match(next, new RegExp(`day=${day}`));
  const second = await api(next, { cookie: admin.cookie });
  assert.equal(second.res.status, 200);
  assert.deepEqual(ids(second.text), all.slice(50));
  assert.equal(nextOf(second.text), undefined, 'the last page');
  assert.equal((await api(`/admin/reconcile?day=${day}&limit=51`, { cookie: admin.cookie }))
    .res.status, 400);
  assert.equal((await api(`/admin/reconcile?day=${day}&after=20260230.1`, { cookie: admin.cookie }))
    .res.status, 400);
});

test('parked messages: listed with body and reason without being taken, replayed, discarded with a note', async () => {
  const id = `admin-bad-${Date.now()}`;
  publish('order.cancel', id, { order_id: 'not-a-number' }); // every order.cancel consumer parks it
  const admin = await operator();
  const parked = async (queue) => (await api(`/api/admin/parked?queue=${queue}`,
    { cookie: admin.cookie })).body.messages.filter((m) => m.message_id === id);
  const first = await eventually(() => parked('shop.goods'), (l) => l.length === 1);
  assert.deepEqual(first, [{ queue: 'shop.goods', message_id: id, routing_key: 'order.cancel',
    reason: 'rejected', tries: 0, body: '{"order_id":"not-a-number"}', body_cut: false }]);
  assert.equal((await parked('shop.goods')).length, 1, 'listing leaves it parked');
  const page = await api('/admin/parked?queue=shop.goods', { cookie: admin.cookie });
  assert.match(page.text, new RegExp(`data-message-id="${id}"`));
  assert.match(page.text, /not-a-number/);

  let r = await form('/admin/parked/replay', { queue: 'shop.goods', message_id: id }, admin, null);
  assert.equal(r.res.status, 403);
  r = await form('/admin/parked/replay', { queue: 'shop.nothing', message_id: id }, admin);
  assert.equal(r.res.status, 400);
  r = await form('/admin/parked/discard', { queue: 'shop.goods', message_id: id, note: '' }, admin);
  assert.equal(r.res.status, 400);
  r = await form('/admin/parked/discard', { queue: 'shop.goods', message_id: 'no-such-message',
    note: 'x' }, admin);
  assert.equal(r.res.status, 404);

  // Replayed: published again with its key and id, the goods consumer parks it again.
  r = await form('/admin/parked/replay', { queue: 'shop.goods', message_id: id }, admin);
  assert.equal(r.res.status, 303, r.text);
  assert.equal(r.res.headers.get('location'), '/admin/parked?queue=shop.goods&done=replayed');
  await eventually(() => parked('shop.goods'), (l) => l.length === 1);
  const logged = () => sql(`SELECT operator_name, action FROM trade_admin_log
    WHERE detail LIKE '%${id}%' ORDER BY admin_log_id`);
  assert.deepEqual(logged(), [['admin', 'parked.replay']]);

  // Discarded from every queue that holds it, with a note.
  const queues = (await api('/api/admin/parked', { cookie: admin.cookie })).body.queues;
  for (const { queue } of queues) {
    await eventually(async () => {
      for (const m of await parked(queue)) {
        const d = await form('/admin/parked/discard', { queue, message_id: id, note: 'test garbage' }, admin);
        assert.equal(d.res.status, 303, d.text);
      }
      return parked(queue);
    }, (l) => l.length === 0, 5000);
    assert.deepEqual(await parked(queue), [], queue);
  }
  const actions = logged();
  assert.ok(actions.filter(([, a]) => a === 'parked.discard').length >= 4);
  assert.ok(actions.every(([op]) => op === 'admin'));
  assert.match(one(`SELECT detail FROM trade_admin_log WHERE detail LIKE '%${id}%'
    AND action = 'parked.discard' LIMIT 1`), /: test garbage$/);
});
