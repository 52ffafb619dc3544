// Integration: accounts through the real nginx, FastCGI app and MariaDB —
// registration, login by name and mobile, the failed-login brake, sessions,
// CSRF, logout, the login and register forms, and the user consumer's refund
// on order.cancel. Every test makes its own users (names from the clock), so
// the tests are independent of each other and of earlier runs.
//   node --test tests/integration/accounts.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { api, base, preSession, prePost, setting, sleep, sql, publish } from './shop.mjs';

// A fresh user's fields: unique name and mobile from the clock.
let seq = 0;
function freshUser(prefix = 'u') {
  seq += 1;
  const n = `${Date.now() % 1e10}${process.pid % 100}${seq}`;
  return { user_name: `${prefix}_${n}`.slice(0, 32), user_mobile: `9${n}`.slice(0, 20),
    password: `pw-${n}-secret` };
}

// The session cookie a response sets: { pair: "shop_session=...", value, attrs }.
function sessionCookie(res) {
  const all = res.headers.getSetCookie();
  const line = all.find((l) => l.startsWith('shop_session='));
  if (!line) return null;
  const pair = line.split(';')[0];
  return { pair, value: pair.slice('shop_session='.length), attrs: line };
}

async function register(u) {
  const r = await prePost('/api/users', u);
  assert.equal(r.res.status, 201, r.text);
  return { ...r, cookie: sessionCookie(r.res) };
}

async function login(loginName, password) {
  const r = await prePost('/api/session', { login: loginName, password });
  return { ...r, cookie: sessionCookie(r.res) };
}

// A urlencoded form POST, not following redirects. The login and register
// forms carry the pre-session token as their pages do (csrf_token and the
// shop_csrf cookie) unless fields name a csrf_token.
async function form(path, fields, cookie) {
  const h = { 'content-type': 'application/x-www-form-urlencoded' };
  if ((path === '/login' || path === '/register') && fields.csrf_token === undefined) {
    const pre = await preSession();
    fields = { ...fields, csrf_token: pre.csrf };
    cookie = cookie ? `${cookie}; ${pre.cookie}` : pre.cookie;
  }
  if (cookie) h.cookie = cookie;
  const res = await fetch(base + path, {
    method: 'POST', headers: h, body: new URLSearchParams(fields).toString(), redirect: 'manual',
  });
  return { res, text: await res.text() };
}

test('register: 201 with the user, a session cookie and a CSRF token; argon2id stored', async () => {
  const u = freshUser('reg');
  const { res, body, cookie } = await register(u);
  assert.equal(body.success, true);
  assert.equal(body.user.user_name, u.user_name);
  assert.equal(body.user.user_mobile, u.user_mobile);
  assert.equal(body.user.user_money, '0.00');
  assert.equal(body.user.user_score, 0);
  assert.match(body.user.user_id, /^\d+$/);
  assert.equal(body.user.user_password, undefined);
  assert.match(body.csrf_token, /^[A-Za-z0-9_-]{43}$/);
  assert.match(res.headers.get('content-type'), /^application\/json/);

  assert.ok(cookie, 'a session cookie is set');
  assert.match(cookie.value, /^[A-Za-z0-9_-]{43}$/);
  assert.match(cookie.attrs, /;\s*HttpOnly/i);
  assert.match(cookie.attrs, /;\s*SameSite=Lax/i);
  assert.match(cookie.attrs, /;\s*Path=\//i);

  const [[hash]] = sql(`SELECT user_password FROM trade_user WHERE user_id = ${body.user.user_id}`);
  assert.match(hash, /^\$argon2id\$/);
  assert.ok(!hash.includes(u.password));

  // The new session works at once.
  const me = await api('/api/me', { cookie: cookie.pair });
  assert.equal(me.res.status, 200);
  assert.equal(me.body.user.user_name, u.user_name);
  assert.equal(me.body.csrf_token, body.csrf_token);
});

test('register: a taken name or mobile is 409 SHOP_USER_EXISTS', async () => {
  const u = freshUser('dup');
  await register(u);
  const other = freshUser('dup');
  let r = await prePost('/api/users', { ...other, user_name: u.user_name });
  assert.equal(r.res.status, 409);
  assert.equal(r.body.code, 'SHOP_USER_EXISTS');
  r = await prePost('/api/users', { ...other, user_name: u.user_name.toUpperCase() });
  assert.equal(r.res.status, 409, 'names are unique regardless of case');
  r = await prePost('/api/users', { ...other, user_mobile: u.user_mobile });
  assert.equal(r.res.status, 409);
  assert.equal(r.body.code, 'SHOP_USER_EXISTS');
  assert.equal(r.res.headers.getSetCookie().length, 0, 'no session for a refused registration');
  r = await prePost('/api/users', { ...other, user_name: 'alice' });
  assert.equal(r.res.status, 409);
});

test('register: bad fields are 400 with a message naming the field', async () => {
  const u = freshUser('bad');
  const cases = [
    [{ ...u, user_name: 'ab' }, 'user_name'],
    [{ ...u, user_name: 'x'.repeat(33) }, 'user_name'],
    [{ ...u, user_name: 'has space' }, 'user_name'],
    [{ ...u, user_name: '<script>' }, 'user_name'],
    [{ ...u, user_name: '12345678' }, 'user_name'],
    [{ ...u, user_name: 42 }, 'user_name'],
    [{ user_mobile: u.user_mobile, password: u.password }, 'user_name'],
    [{ ...u, user_mobile: '12345' }, 'user_mobile'],
    [{ ...u, user_mobile: '138-0000-0001' }, 'user_mobile'],
    [{ ...u, user_mobile: '1'.repeat(21) }, 'user_mobile'],
    [{ ...u, user_mobile: 13800000001 }, 'user_mobile'],
    [{ user_name: u.user_name, password: u.password }, 'user_mobile'],
    [{ ...u, password: 'short' }, 'password'],
    [{ ...u, password: 'p'.repeat(129) }, 'password'],
    [{ ...u, password: null }, 'password'],
    [{ user_name: u.user_name, user_mobile: u.user_mobile }, 'password'],
  ];
  for (const [body, field] of cases) {
    const r = await prePost('/api/users', body);
    assert.equal(r.res.status, 400, JSON.stringify(body));
    assert.equal(r.body.success, false);
    assert.equal(r.body.code, 'SHOP_REQUEST_PARAMETER_VALID');
    assert.ok(r.body.message.startsWith(field + ' '), `${r.body.message} names ${field}`);
  }
  for (const raw of ['not json', '[]', '{"user_name":']) {
    const r = await prePost('/api/users', raw);
    assert.equal(r.res.status, 400, raw);
    assert.equal(r.body.code, 'SHOP_REQUEST_PARAMETER_VALID');
  }
  const [[n]] = sql(`SELECT COUNT(*) FROM trade_user WHERE user_mobile = '${u.user_mobile}'`);
  assert.equal(n, '0', 'nothing was stored');
});

test('login by name and by mobile (the demo user alice)', async () => {
  for (const loginName of ['alice', '13800000001']) {
    const r = await login(loginName, 'alice-pass-1');
    assert.equal(r.res.status, 200, r.text);
    assert.equal(r.body.success, true);
    assert.equal(r.body.user.user_name, 'alice');
    assert.equal(r.body.user.user_mobile, '13800000001');
    assert.match(r.body.user.user_money, /^\d+\.\d\d$/);
    assert.match(r.body.csrf_token, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(r.cookie);
    assert.match(r.cookie.attrs, /HttpOnly/i);
    assert.match(r.cookie.attrs, /SameSite=Lax/i);
    const me = await api('/api/me', { cookie: r.cookie.pair });
    assert.equal(me.res.status, 200);
    assert.equal(me.body.user.user_id, '2001');
  }
});

test('a wrong password is 401 SHOP_LOGIN_FAILED, an unknown login too', async () => {
  const u = freshUser('wrong');
  await register(u);
  let r = await login(u.user_name, u.password + 'x');
  assert.equal(r.res.status, 401);
  assert.equal(r.body.code, 'SHOP_LOGIN_FAILED');
  assert.equal(r.cookie, null);
  r = await login(`nobody_${Date.now()}`, 'whatever-password');
  assert.equal(r.res.status, 401);
  assert.equal(r.body.code, 'SHOP_LOGIN_FAILED');
  r = await prePost('/api/session', { login: u.user_name });
  assert.equal(r.res.status, 400);
  assert.ok(r.body.message.startsWith('password '));
  r = await prePost('/api/session', { password: 'x' });
  assert.equal(r.res.status, 400);
  assert.ok(r.body.message.startsWith('login '));
  r = await prePost('/api/session', { login: 'x'.repeat(100), password: 'y' });
  assert.equal(r.res.status, 400);
  // The right password still works (one failure is not a lockout).
  r = await login(u.user_mobile, u.password);
  assert.equal(r.res.status, 200);
});

test('repeated failures are braked: 429 SHOP_TOO_MANY_ATTEMPTS, even with the right password',
  async () => {
    const u = freshUser('brake');
    const id = (await register(u)).body.user.user_id;
    let r;
    let failures = 0;
    for (let i = 0; i < 20; i++) {
      r = await login(u.user_name, 'wrong-password');
      if (r.res.status === 429) break;
      assert.equal(r.res.status, 401);
      failures += 1;
    }
    assert.equal(r.res.status, 429, 'the brake engaged');
    assert.equal(r.body.code, 'SHOP_TOO_MANY_ATTEMPTS');
    assert.ok(failures >= 1 && failures <= 10, `braked after ${failures} failures`);
    const rows = sql(`SELECT failures FROM trade_login_brake WHERE brake_key = 'user:${id}'`);
    assert.equal(Number(rows[0][0]), failures);
    // A few failures more (a wait of many seconds, so that a slow machine
    // cannot outlast it): the right password is braked too.
    sql(`UPDATE trade_login_brake SET failures = failures + 5, last_at = UTC_TIMESTAMP(3)
         WHERE brake_key = 'user:${id}'`);
    r = await login(u.user_name, u.password);
    assert.equal(r.res.status, 429, 'no guessing through the brake');
    assert.equal(r.cookie, null);
    // Other users are not affected.
    r = await login('bob', 'bob-pass-2');
    assert.equal(r.res.status, 200);
  });

// A request from another loopback address (the connection's source): nginx
// sees another client (REMOTE_ADDR), so one test's failures do not brake
// the others'. Resolves like api(): { res (status, headers.get,
// headers.getSetCookie), body (JSON or null), text }.
// The second octet changes from run to run (a count outlives a run).
const from = (n) => `127.${1 + (process.pid % 250)}.${Math.floor(n / 250)}.${(n % 250) + 2}`;

function requestFrom(ip, path, { method = 'POST', headers = {}, body } = {}) {
  const u = new URL(base + path);
  const data = body === undefined ? undefined
    : (Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body));
  const h = { ...headers };
  if (data !== undefined && !h['content-type']) h['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method,
      headers: h, localAddress: ip, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (ch) => chunks.push(ch));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ res: { status: res.statusCode, headers: {
          get: (n) => res.headers[n.toLowerCase()] ?? null,
          getSetCookie: () => res.headers['set-cookie'] || [] } }, body: json, text });
      });
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

// Log in from ip with a pre-session token.
async function loginFrom(ip, loginName, password) {
  const pre = await preSession();
  const r = await requestFrom(ip, '/api/session', { body: { login: loginName, password },
    headers: { cookie: pre.cookie, 'x-csrf-token': pre.csrf } });
  return { ...r, cookie: sessionCookie(r.res) };
}

test('12 parallel wrong passwords: at most the limit of 5 are checked, the rest wait (429)',
  async () => {
    const u = freshUser('par');
    await register(u);
    const addr = from(1);
    const all = await Promise.all(Array.from({ length: 12 },
      () => loginFrom(addr, u.user_name, 'wrong-password')));
    const statuses = all.map((r) => r.res.status);
    const checked = statuses.filter((s) => s === 401).length;
    assert.ok(checked <= 5, `${checked} wrong passwords were checked: ${statuses}`);
    assert.equal(checked + statuses.filter((s) => s === 429).length, 12, String(statuses));
  });

test('the brake counts per account: name and mobile share one count', async () => {
  const u = freshUser('acct');
  const id = (await register(u)).body.user.user_id;
  const addr = from(2);
  for (let i = 0; i < 5; i++) {
    const r = await loginFrom(addr, i % 2 ? u.user_mobile : u.user_name, 'wrong-password');
    assert.equal(r.res.status, 401, `attempt ${i + 1}`);
  }
  assert.equal(sql(`SELECT failures FROM trade_login_brake WHERE brake_key = 'user:${id}'`)[0][0], '5');
  assert.equal(sql(`SELECT COUNT(*) FROM trade_login_brake
                    WHERE brake_key IN ('login:${u.user_name}', 'login:${u.user_mobile}')`)[0][0], '0');
  // Three more failures' wait (8 s): neither name nor mobile gets through.
  sql(`UPDATE trade_login_brake SET failures = 8, last_at = UTC_TIMESTAMP(3) WHERE brake_key = 'user:${id}'`);
  for (const l of [u.user_name, u.user_mobile]) {
    const r = await loginFrom(addr, l, 'wrong-password');
    assert.equal(r.res.status, 429, `${l} while braked`);
  }
});

test('the owner gets in after a growing wait: 429 with Retry-After, then the right password works',
  async () => {
    const u = freshUser('owner');
    const id = (await register(u)).body.user.user_id;
    const attacker = from(3);
    for (let i = 0; i < 5; i++) assert.equal((await loginFrom(attacker, u.user_name, 'guess')).res.status, 401);
    // The wait after f failures (f >= 5) is 2^(f-5) s since the last; the
    // row is set as if the last one was just now.
    const braked = async (failures) => {
      sql(`UPDATE trade_login_brake SET failures = ${failures}, last_at = UTC_TIMESTAMP(3)
           WHERE brake_key = 'user:${id}'`);
      const r = await login(u.user_name, u.password);
      assert.equal(r.res.status, 429, `braked after ${failures} failures`);
      return Number(r.res.headers.get('retry-after'));
    };
    const wait6 = await braked(6);
    assert.ok(wait6 >= 1 && wait6 <= 2, `Retry-After ${wait6} after 6 failures`);
    const wait9 = await braked(9);
    assert.ok(wait9 > 4 && wait9 <= 16, `the wait grows: ${wait6} s, then ${wait9} s`);
    // After the wait (the last failure 17 s ago), the right password works.
    sql(`UPDATE trade_login_brake SET last_at = UTC_TIMESTAMP(3) - INTERVAL 17 SECOND
         WHERE brake_key = 'user:${id}'`);
    let r = await login(u.user_name, u.password);
    assert.equal(r.res.status, 200, 'the right password after the wait lets the owner in');
    // A success forgets the account's count.
    r = await loginFrom(attacker, u.user_name, 'guess');
    assert.equal(r.res.status, 401);
  });

test('the brake counts per client address: many accounts guessed from one address are braked',
  async () => {
    const addr = from(4);
    const limit = Number(setting('login_addr_max_failures') || 50);
    let r;
    let n = 0;
    for (; n < limit + 5; n++) {
      r = await loginFrom(addr, `nobody_${Date.now()}_${n}`, 'wrong-password');
      if (r.res.status === 429) break;
      assert.equal(r.res.status, 401, `attempt ${n + 1}`);
    }
    assert.equal(r.res.status, 429, 'the address is braked');
    assert.equal(n, limit, `braked after ${n} failures`);
    assert.ok(Number(r.res.headers.get('retry-after')) >= 1);
    // Another address is not.
    r = await loginFrom(from(5), 'bob', 'bob-pass-2');
    assert.equal(r.res.status, 200, r.text);
  });

test('many concurrent bogus logins answer at once and do not stall a catalogue page', async () => {
  const bogus = Array.from({ length: 200 }, (_, i) => loginFrom(from(10 + i), `nobody_${i}_${Date.now()}`,
    'wrong-password').catch((e) => ({ error: e })));
  await sleep(300);
  // Answering within 5 s is what "not stalled" means here (a stalled page
  // waits for nginx's 30 s timeout).
  const page = await fetch(`${base}/`, { signal: AbortSignal.timeout(5000) });
  assert.equal(page.status, 200, 'the catalogue answers while the logins run');
  const all = await Promise.all(bogus);
  for (const r of all) {
    assert.ok(!r.error, String(r.error));
    assert.ok([401, 429, 503].includes(r.res.status), `${r.res.status} ${r.text}`);
    if (r.res.status === 503) {
      assert.equal(r.body.code, 'SHOP_BUSY');
      assert.ok(Number(r.res.headers.get('retry-after')) >= 1);
    }
  }
});

test('nginx limits the login rate per client: a flood from one address gets 503 SHOP_BUSY at once',
  async () => {
    const ip = from(7);
    const all = await Promise.all(Array.from({ length: 120 }, () => requestFrom(ip, '/api/session',
      { body: { login: 'alice', password: 'wrong-password' } })));
    const busy = all.filter((r) => r.res.status === 503);
    assert.ok(busy.length > 0, `some were limited: ${all.map((r) => r.res.status)}`);
    assert.equal(busy[0].body.code, 'SHOP_BUSY');
    assert.ok(Number(busy[0].res.headers.get('retry-after')) >= 1);
    // Another client is not limited.
    const r = await loginFrom(from(8), 'bob', 'bob-pass-2');
    assert.equal(r.res.status, 200, r.text);
  });

test('a login or registration field that is not UTF-8 is 400, nothing recorded', async () => {
  const ip = from(6);
  const pre = await preSession();
  const tok = { cookie: pre.cookie, 'x-csrf-token': pre.csrf };
  const bad = Buffer.concat([Buffer.from('{"login":"ab'), Buffer.from([0xff, 0xfe]),
    Buffer.from('","password":"whatever-password"}')]);
  let r = await requestFrom(ip, '/api/session', { body: bad, headers: tok });
  assert.equal(r.res.status, 400, r.text);
  assert.equal(r.body.code, 'SHOP_REQUEST_PARAMETER_VALID');
  r = await requestFrom(ip, '/login', { headers: { 'content-type': 'application/x-www-form-urlencoded',
    cookie: pre.cookie }, body: `csrf_token=${pre.csrf}&login=ab%FF%FE&password=whatever-password` });
  assert.equal(r.res.status, 400);
  const n = `${Date.now() % 1e9}`;
  const reg = Buffer.concat([Buffer.from(`{"user_name":"utf_${n}","user_mobile":"7${n}","password":"pass`),
    Buffer.from([0xc3, 0x28]), Buffer.from('word-long"}')]);
  r = await requestFrom(ip, '/api/users', { body: reg, headers: tok });
  assert.equal(r.res.status, 400, r.text);
  assert.equal(r.body.code, 'SHOP_REQUEST_PARAMETER_VALID');
  assert.equal(sql(`SELECT COUNT(*) FROM trade_login_brake WHERE brake_key = 'addr:${ip}'`)[0][0], '0');
  assert.equal(sql(`SELECT COUNT(*) FROM trade_user WHERE user_name = 'utf_${n}'`)[0][0], '0');
});

test('logging in and registering need the pre-session token: a cross-site form is 403', async () => {
  const u = freshUser('csrf');
  const plain = { 'content-type': 'application/x-www-form-urlencoded' };
  // What another site's form can send: no shop_csrf cookie, no token.
  let res = await fetch(`${base}/login`, { method: 'POST', headers: plain, redirect: 'manual',
    body: new URLSearchParams({ login: 'alice', password: 'alice-pass-1' }).toString() });
  assert.equal(res.status, 403, 'POST /login without the token');
  assert.ok(!res.headers.getSetCookie().some((l) => l.startsWith('shop_session=')), 'no session');
  res = await fetch(`${base}/register`, { method: 'POST', headers: plain, redirect: 'manual',
    body: new URLSearchParams(u).toString() });
  assert.equal(res.status, 403, 'POST /register without the token');
  let r = await api('/api/session', { method: 'POST', body: { login: 'alice', password: 'alice-pass-1' } });
  assert.equal(r.res.status, 403);
  assert.equal(r.body.code, 'SHOP_CSRF_INVALID');
  r = await api('/api/users', { method: 'POST', body: u });
  assert.equal(r.res.status, 403);
  assert.equal(r.body.code, 'SHOP_CSRF_INVALID');
  // A token that is not the cookie's is refused too.
  const pre = await preSession();
  const other = await preSession();
  r = await api('/api/session', { method: 'POST', body: { login: 'alice', password: 'alice-pass-1' },
    cookie: pre.cookie, csrf: other.csrf });
  assert.equal(r.res.status, 403);
  r = await api('/api/session', { method: 'POST', body: { login: 'alice', password: 'alice-pass-1' },
    cookie: pre.cookie });
  assert.equal(r.res.status, 403, 'the cookie alone is not enough');
  assert.equal(sql(`SELECT COUNT(*) FROM trade_user WHERE user_name = '${u.user_name}'`)[0][0], '0');
  // The pages hand the token out: the cookie and the same value in the form.
  res = await fetch(`${base}/login`);
  const cookie = res.headers.getSetCookie().find((l) => l.startsWith('shop_csrf='));
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Lax/);
  const token = cookie.split(';')[0].slice('shop_csrf='.length);
  assert.ok((await res.text()).includes(`name="csrf_token" value="${token}"`), 'the form carries it');
  res = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual',
    headers: { ...plain, cookie: `shop_csrf=${token}` },
    body: new URLSearchParams({ csrf_token: token, login: 'alice', password: 'alice-pass-1' }).toString() });
  assert.equal(res.status, 303, 'the page\'s own form logs in');
  // The JSON API: GET /api/session, then the cookie and X-CSRF-Token.
  r = await api('/api/session', { method: 'POST', body: { login: 'alice', password: 'alice-pass-1' },
    cookie: pre.cookie, csrf: pre.csrf });
  assert.equal(r.res.status, 200, r.text);
});

test('a state change from a foreign Origin (or Referer) is refused: 403 SHOP_CSRF_INVALID', async () => {
  const pre = await preSession();
  const body = { login: 'alice', password: 'alice-pass-1' };
  const post = (headers) => api('/api/session', { method: 'POST', body, cookie: pre.cookie,
    csrf: pre.csrf, headers });
  let r = await post({ origin: 'http://evil.example' });
  assert.equal(r.res.status, 403);
  assert.equal(r.body.code, 'SHOP_CSRF_INVALID');
  r = await post({ origin: 'null' });
  assert.equal(r.res.status, 403, 'an opaque origin');
  r = await post({ referer: 'http://evil.example/page' });
  assert.equal(r.res.status, 403, 'a foreign Referer when there is no Origin');
  r = await post({ origin: `http://evil.example/${new URL(base).host}` });
  assert.equal(r.res.status, 403);
  r = await post({ origin: base });
  assert.equal(r.res.status, 200, `the shop's own origin: ${r.text}`);
  r = await post({ referer: `${base}/login` });
  assert.equal(r.res.status, 200, 'its own Referer');
  // Every state change, not only logging in: placing an order, logging out.
  const c = sessionCookie(r.res).pair;
  r = await api('/api/orders', { method: 'POST', cookie: c, csrf: r.body.csrf_token,
    headers: { origin: 'https://evil.example' }, body: {} });
  assert.equal(r.res.status, 403);
  assert.equal(r.body.code, 'SHOP_CSRF_INVALID');
  r = await api('/api/session', { method: 'DELETE', cookie: c, headers: { origin: 'https://evil.example' } });
  assert.equal(r.res.status, 403);
});

test('/api/me needs a session: 401 SHOP_NOT_LOGGED_IN without or with a bad cookie', async () => {
  let r = await api('/api/me');
  assert.equal(r.res.status, 401);
  assert.equal(r.body.code, 'SHOP_NOT_LOGGED_IN');
  r = await api('/api/me', { cookie: 'shop_session=' + 'A'.repeat(43) });
  assert.equal(r.res.status, 401);
  r = await api('/api/me', { cookie: 'shop_session=garbage' });
  assert.equal(r.res.status, 401);
});

test('an expired session is refused', async () => {
  const u = freshUser('exp');
  const { body, cookie } = await register(u);
  sql(`UPDATE trade_session SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND
       WHERE user_id = ${body.user.user_id}`);
  const r = await api('/api/me', { cookie: cookie.pair });
  assert.equal(r.res.status, 401);
});

test('logout needs the CSRF token, then invalidates the session', async () => {
  const u = freshUser('out');
  const { body, cookie } = await register(u);
  let r = await api('/api/session', { method: 'DELETE', cookie: cookie.pair });
  assert.equal(r.res.status, 403);
  assert.equal(r.body.code, 'SHOP_CSRF_INVALID');
  r = await api('/api/session', { method: 'DELETE', cookie: cookie.pair, csrf: 'x'.repeat(43) });
  assert.equal(r.res.status, 403);
  r = await api('/api/me', { cookie: cookie.pair });
  assert.equal(r.res.status, 200, 'a refused logout leaves the session');

  r = await api('/api/session', { method: 'DELETE', cookie: cookie.pair, csrf: body.csrf_token });
  assert.equal(r.res.status, 200);
  assert.deepEqual(r.body, { success: true });
  const cleared = sessionCookie(r.res);
  assert.ok(cleared, 'the cookie is cleared');
  assert.equal(cleared.value, '');
  assert.match(cleared.attrs, /Max-Age=0/i);

  r = await api('/api/me', { cookie: cookie.pair });
  assert.equal(r.res.status, 401, 'the old cookie is dead');
  const [[n]] = sql(`SELECT COUNT(*) FROM trade_session WHERE user_id = ${body.user.user_id}`);
  assert.equal(n, '0');
});

test('the session table stores only a hash of the token', async () => {
  const u = freshUser('hash');
  const { body, cookie } = await register(u);
  const rows = sql(`SELECT HEX(session_hash), csrf_token, TIMESTAMPDIFF(SECOND, created_at,
    expires_at) FROM trade_session WHERE user_id = ${body.user.user_id}`);
  assert.equal(rows.length, 1);
  const [hex, csrf, ttl] = rows[0];
  assert.equal(csrf, body.csrf_token);
  assert.ok(Number(ttl) > 0);
  const want = (await import('node:crypto')).createHash('sha256').update(cookie.value)
    .digest('hex').toUpperCase();
  assert.equal(hex, want, 'the key is the SHA-256 of the token');
  const found = sql(`SELECT COUNT(*) FROM trade_session WHERE session_hash = '${cookie.value}'
    OR csrf_token = '${cookie.value}' OR HEX(session_hash) = HEX('${cookie.value}')`);
  assert.equal(found[0][0], '0', 'the raw token is nowhere in the table');
});

test('the login page: form, failure kept in words, success redirects to next', async () => {
  let res = await fetch(`${base}/login?next=${encodeURIComponent('/goods/1001')}`);
  assert.equal(res.status, 200);
  let html = await res.text();
  assert.match(html, /<form[^>]*method="post"[^>]*action="\/login"/);
  assert.match(html, /name="login"/);
  assert.match(html, /type="password"[^>]*name="password"|name="password"[^>]*maxlength/);
  assert.match(html, /<input type="hidden" name="next" value="\/goods\/1001">/);

  const u = freshUser('form');
  await register(u);
  let r = await form('/login', { login: u.user_name, password: 'nope-nope', next: '/goods/1001' });
  assert.equal(r.res.status, 401);
  assert.match(r.text, /<p class="form-error" role="alert">Wrong login or password\.<\/p>/);
  assert.ok(r.text.includes(`value="${u.user_name}"`), 'the login is kept');
  assert.ok(!r.text.includes('nope-nope'), 'the password is not echoed');

  r = await form('/login', { login: u.user_name, password: u.password, next: '/goods/1001' });
  assert.equal(r.res.status, 303);
  assert.equal(r.res.headers.get('location'), '/goods/1001');
  const c = sessionCookie(r.res);
  assert.ok(c);
  res = await fetch(`${base}/account`, { headers: { cookie: c.pair }, redirect: 'manual' });
  assert.equal(res.status, 200);
  html = await res.text();
  assert.ok(html.includes(u.user_name));
  assert.ok(html.includes(u.user_mobile));
  assert.match(html, /0\.00/);
});

test('an open redirect through next lands on /', async () => {
  const u = freshUser('redir');
  await register(u);
  for (const next of ['//evil.example', '//evil.example/x', 'https://evil.example/',
    '/\\evil.example', 'evil', '']) {
    const r = await form('/login', { login: u.user_name, password: u.password, next });
    assert.equal(r.res.status, 303, next);
    assert.equal(r.res.headers.get('location'), '/', `next=${next}`);
  }
  const res = await fetch(`${base}/login?next=//evil.example`);
  assert.match(await res.text(), /name="next" value="\/"/);
});

test('the register page: errors in words with the fields kept, success logs in', async () => {
  let res = await fetch(`${base}/register`);
  assert.equal(res.status, 200);
  const html = await res.text();
  for (const f of ['user_name', 'user_mobile', 'password'])
    assert.match(html, new RegExp(`name="${f}"[^>]*maxlength="\\d+"`, 's'));

  const u = freshUser('regform');
  let r = await form('/register', { ...u, password: 'short', next: '/account' });
  assert.equal(r.res.status, 400);
  assert.match(r.text, /<p class="form-error" role="alert">Password must be 8 to 128/);
  assert.ok(r.text.includes(`value="${u.user_name}"`));
  assert.ok(r.text.includes(`value="${u.user_mobile}"`));

  // A password that is not text (a raw 0xFF byte; a form carries bytes).
  const pre = await preSession();
  const raw = `${new URLSearchParams({ user_name: u.user_name, user_mobile: u.user_mobile,
    csrf_token: pre.csrf, next: '/account' })}&password=pass%FFword-long`;
  res = await fetch(`${base}/register`, { method: 'POST', redirect: 'manual', body: raw,
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: pre.cookie } });
  assert.equal(res.status, 400);
  assert.match(await res.text(), /role="alert">Password must be text \(valid UTF-8\)/);

  r = await form('/register', { ...u, user_name: 'x', next: '/account' });
  assert.equal(r.res.status, 400);
  assert.match(r.text, /role="alert">User name must be/);

  r = await form('/register', { ...u, user_name: 'y'.repeat(300), next: '/account' });
  assert.equal(r.res.status, 400, 'an over-long field is refused, not truncated');
  assert.match(r.text, /role="alert">User name must be/);
  assert.ok(r.text.includes(`value="${u.user_mobile}"`), 'the valid mobile is kept');
  assert.ok(!r.text.includes('yyyy'), 'the refused name is not shown again');

  r = await form('/register', { ...u, user_name: 'alice', next: '/account' });
  assert.equal(r.res.status, 409);
  assert.match(r.text, /already registered/);

  r = await form('/register', { ...u, next: '/account' });
  assert.equal(r.res.status, 303);
  assert.equal(r.res.headers.get('location'), '/account');
  const c = sessionCookie(r.res);
  assert.ok(c);
  res = await fetch(`${base}/account`, { headers: { cookie: c.pair } });
  assert.equal(res.status, 200);
  assert.ok((await res.text()).includes(u.user_name));
});

test('the account page lists the coupons; logging out by form ends the session', async () => {
  const u = freshUser('acct');
  const { body } = await register(u);
  const uid = body.user.user_id;
  sql(`UPDATE trade_user SET user_money = 123.40, user_score = 17 WHERE user_id = ${uid}`);
  const c1 = String(BigInt(uid) + 1n);
  const c2 = String(BigInt(uid) + 2n);
  sql(`INSERT INTO trade_coupon (coupon_id, coupon_price, user_id, order_id, is_used, used_time)
       VALUES (${c1}, 7.50, ${uid}, NULL, 0, NULL),
              (${c2}, 15.00, ${uid}, 4242, 1, UTC_TIMESTAMP(3))`);
  const r = await form('/login', { login: u.user_name, password: u.password, next: '/account' });
  assert.equal(r.res.status, 303);
  const c = sessionCookie(r.res);
  let res = await fetch(`${base}/account`, { headers: { cookie: c.pair } });
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.ok(html.includes('123.40'), 'balance shown as money');
  assert.ok(html.includes('>17<'), 'points shown');
  assert.ok(html.includes(u.user_mobile));
  assert.ok(html.includes(`data-coupon-id="${c1}"`) && html.includes('7.50'));
  assert.ok(html.includes(`data-coupon-id="${c2}"`) && html.includes('15.00'));
  assert.ok(html.includes('href="/orders/4242"'), 'a used coupon links its order');
  assert.ok(html.indexOf(c1) < html.indexOf(c2), 'unused coupons first');
  const csrf = html.match(/name="csrf_token" value="([A-Za-z0-9_-]{43})"/);
  assert.ok(csrf, 'the page carries the CSRF token for the logout form');

  // Without the token the form is refused; with it the session ends.
  let out = await form('/logout', {}, c.pair);
  assert.equal(out.res.status, 403);
  out = await form('/logout', { csrf_token: csrf[1] }, c.pair);
  assert.equal(out.res.status, 303);
  assert.equal(out.res.headers.get('location'), '/');
  res = await fetch(`${base}/account`, { headers: { cookie: c.pair }, redirect: 'manual' });
  assert.equal(res.status, 303, 'the account page now sends to the login');
  assert.match(res.headers.get('location'), /^\/login\?next=/);
});

test('user consumer: order.cancel refunds the balance once, however often it arrives', async () => {
  const u = freshUser('refund');
  const { body } = await register(u);
  const uid = body.user.user_id;
  const orderId = String(BigInt(Date.now()) * 1000n + BigInt(seq));
  // As if saga step 5 had paid 12.30 from a balance of 100.00.
  sql(`UPDATE trade_user SET user_money = 87.70 WHERE user_id = ${uid}`);
  sql(`INSERT INTO trade_user_money_log (user_id, order_id, money_log_type, use_money)
       VALUES (${uid}, ${orderId}, 1, 12.30)`);
  const ev = { order_id: orderId, user_id: uid, goods_id: '1001', goods_number: 1,
    coupon_id: null, money_paid: '12.30', reason: 'SHOP_COUPON_USE_FAIL' };
  for (let i = 0; i < 3; i++) publish('order.cancel', `order.cancel:${orderId}`, ev);

  const balance = () => sql(`SELECT user_money FROM trade_user WHERE user_id = ${uid}`)[0][0];
  const logged = () => Number(sql(`SELECT COUNT(*) FROM trade_mq_consumer_log WHERE
    group_name = 'user' AND msg_tag = 'order.cancel' AND msg_key = '${orderId}'`)[0][0]);
  const end = Date.now() + 15000;
  while ((balance() !== '100.00' || logged() !== 1) && Date.now() < end) await sleep(200);
  assert.equal(balance(), '100.00');
  await sleep(1500); // let the duplicates arrive
  assert.equal(balance(), '100.00', 'refunded once');
  const rows = sql(`SELECT money_log_type, use_money FROM trade_user_money_log
    WHERE user_id = ${uid} AND order_id = ${orderId} ORDER BY money_log_type`);
  assert.deepEqual(rows, [['1', '12.30'], ['2', '12.30']]);
  assert.equal(logged(), 1);
});

test('user consumer: a cancel without a payment changes nothing but is recorded', async () => {
  const u = freshUser('norefund');
  const { body } = await register(u);
  const uid = body.user.user_id;
  const orderId = String(BigInt(Date.now()) * 1000n + 500n + BigInt(seq));
  publish('order.cancel', `order.cancel:${orderId}`, { order_id: orderId, user_id: uid,
    goods_id: '1001', goods_number: 1, coupon_id: null, money_paid: '0.00',
    reason: 'SHOP_GOODS_NUM_NOT_ENOUGH' });
  const logged = () => Number(sql(`SELECT COUNT(*) FROM trade_mq_consumer_log WHERE
    group_name = 'user' AND msg_tag = 'order.cancel' AND msg_key = '${orderId}'`)[0][0]);
  const end = Date.now() + 15000;
  while (logged() !== 1 && Date.now() < end) await sleep(200);
  assert.equal(logged(), 1);
  assert.equal(sql(`SELECT user_money FROM trade_user WHERE user_id = ${uid}`)[0][0], '0.00');
  const [[n]] = sql(`SELECT COUNT(*) FROM trade_user_money_log WHERE order_id = ${orderId}`);
  assert.equal(n, '0');
});
