// bench/peer/notify_peer.mjs: the Node peer of bench/notify.sh. The shop's
// notify path (POST /pay/notify/alipay: src/web_pay.c, src/pay_service.c
// pay_notify_check, src/alipay.c) written as a short Node program, the way a
// team would write it with the usual parts: node:http in a node:cluster of
// --workers workers (no nginx), the RSA2 check with node:crypto, amqplib's
// ConfirmChannel (one connection a worker; the confirms of concurrent
// requests pipeline on the channel).
//
// For each request, as the shop does for a valid notification:
//   - a form body (Content-Type application/x-www-form-urlencoded) of at most
//     64 KiB, decoded strictly ('+' is a space, %XX, no NUL, no repeated key,
//     at most 64 pairs, keys <= 64 and values <= 4096 bytes);
//   - sign_type RSA2 and a strict base64 sign, verified (SHA256withRSA) with
//     the provider's public key over the non-empty pairs but sign and
//     sign_type, sorted by key (byte order), joined as k=v&...;
//   - app_id and seller_id ours; trade_status, trade_no, notify_id tokens;
//     out_trade_no an order id; total_amount money (cents);
//   - TRADE_SUCCESS or TRADE_FINISHED: the pay.notify message the shop
//     publishes (the same JSON, persistent, content type application/json,
//     message id pay.notify:<order>:<trade_no>, a timestamp, mandatory) and
//     "success" only once the broker confirmed it (the publish callback);
//     "fail" when it was nacked or returned unroutable. Another status:
//     "success", nothing published. Anything refused: "fail".
// Unlike the shop it logs nothing a request and has no outbox to fall back
// on (a publish that fails is answered "fail"), no metrics.
//
// The message goes to an exchange of its own (--exchange, default
// shop.bench.peer; topic, routing key pay.notify) bound to --queues durable
// queues <exchange>.notify.1..K, declared and purged by the primary at start
// and deleted (with the exchange) when it stops: no shop consumer sees them.
// The primary prints "peer: ready port=P workers=W queues=K" once every
// worker listens; on SIGTERM or SIGINT the workers stop, each printing
// "peer: worker N success=S fail=F", the topology is deleted and the primary
// prints "peer: stopped".
//
// Usage: node notify_peer.mjs --port P --amqp URL --public-key PEM
//          --app-id ID --seller-id ID [--queues K] [--workers W] [--exchange X]
import cluster from 'node:cluster';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import amqp from 'amqplib';

const BODY_MAX = 64 * 1024; // nginx's client_max_body_size in front of the shop
const MAX_PARAMS = 64;
const KEY_MAX = 64;
const VALUE_MAX = 4096;
const SIGN_MAX = 700;
const TOKEN_MAX = 64; // trade_no, notify_id
const STATUS_MAX = 31;
const ROUTING_KEY = 'pay.notify';

function options(argv) {
  const o = { queues: 3, workers: 2, exchange: 'shop.bench.peer' };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '').replace(/-(.)/g, (_, c) => c.toUpperCase());
    if (argv[i + 1] === undefined) throw new Error(`${argv[i]} needs a value`);
    o[name] = argv[i + 1];
  }
  for (const k of ['port', 'amqp', 'publicKey', 'appId', 'sellerId']) {
    if (!o[k]) throw new Error(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} is required`);
  }
  o.queues = Number(o.queues);
  o.workers = Number(o.workers);
  if (!(o.queues >= 1 && o.queues <= 16) || !(o.workers >= 1 && o.workers <= 64)) {
    throw new Error('--queues 1..16, --workers 1..64');
  }
  if (o.exchange === 'shop.events' || o.exchange === '') throw new Error('an exchange of its own');
  return o;
}

const opt = options(process.argv.slice(2));
const queueNames = Array.from({ length: opt.queues }, (_, k) => `${opt.exchange}.notify.${k + 1}`);

// --- the primary: topology, workers, cleanup ----------------------------------

async function topology(remove) {
  const conn = await amqp.connect(opt.amqp);
  try {
    const ch = await conn.createChannel();
    if (remove) {
      for (const q of queueNames) await ch.deleteQueue(q);
      await ch.deleteExchange(opt.exchange);
    } else {
      await ch.assertExchange(opt.exchange, 'topic', { durable: false });
      for (const q of queueNames) {
        await ch.assertQueue(q, { durable: true });
        await ch.purgeQueue(q);
        await ch.bindQueue(q, opt.exchange, ROUTING_KEY);
      }
    }
    await ch.close();
  } finally {
    await conn.close();
  }
}

async function primary() {
  await topology(false);
  let ready = 0;
  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    const workers = Object.values(cluster.workers);
    const exits = workers.map((w) => new Promise((r) => w.once('exit', r)));
    for (const w of workers) w.send('stop');
    // A worker that hangs (a broker that never confirms) is not waited for.
    setTimeout(() => workers.forEach((w) => w.process.kill('SIGKILL')), 10000).unref();
    await Promise.all(exits);
    await topology(true).catch((e) => {
      console.error(`peer: deleting the queues: ${e.message}`);
      code = 1;
    });
    console.log('peer: stopped');
    process.exit(code);
  };
  cluster.on('message', (_w, m) => {
    if (m === 'ready' && ++ready === opt.workers) {
      console.log(`peer: ready port=${opt.port} workers=${opt.workers} queues=${opt.queues}`);
    }
  });
  cluster.on('exit', (w, code) => {
    if (!stopping) {
      console.error(`peer: worker ${w.id} exited (${code}) before it was told to`);
      stop(1);
    }
  });
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
  for (let i = 0; i < opt.workers; i++) cluster.fork();
}

// --- a worker: the notify handler ---------------------------------------------

// Strict form decoding of one key or value, byte for byte (latin1 strings
// hold the bytes); null when malformed.
function formDecode(s) {
  if (!/^(?:[^%]|%[0-9A-Fa-f]{2})*$/.test(s)) return null;
  const d = s.replace(/\+/g, ' ').replace(/%([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  return d.includes('\0') ? null : d;
}

function parseForm(body) {
  const ps = new Map();
  for (const pair of body.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const k = formDecode(eq < 0 ? pair : pair.slice(0, eq));
    const v = formDecode(eq < 0 ? '' : pair.slice(eq + 1));
    if (k === null || v === null || k === '' || k.length > KEY_MAX || v.length > VALUE_MAX) return null;
    if (ps.has(k) || ps.size >= MAX_PARAMS) return null;
    ps.set(k, v);
  }
  return ps;
}

function signatureOk(pub, ps) {
  const sign = ps.get('sign');
  if (sign === undefined || ps.get('sign_type') !== 'RSA2' || sign.length >= SIGN_MAX) return false;
  if (sign.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(sign)) return false;
  const content = [...ps.keys()]
    .filter((k) => k !== 'sign' && k !== 'sign_type' && ps.get(k) !== '')
    .sort()
    .map((k) => `${k}=${ps.get(k)}`)
    .join('&');
  return crypto.verify('sha256', Buffer.from(content, 'latin1'), pub, Buffer.from(sign, 'base64'));
}

const token = (s, max) => s !== undefined && s.length >= 1 && s.length <= max && /^[!-~]+$/.test(s);

function cents(s) {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(s ?? '');
  if (m === null || m[1].replace(/^0+/, '').length > 8) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? '0').padEnd(2, '0'));
}

// The provider's payment time when it is a real "YYYY-MM-DD HH:MM:SS" of
// 2000..2199, else now (UTC), as the shop does.
function paidTime(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(s ?? '');
  if (m !== null) {
    const [y, mo, d, h, mi, se] = m.slice(1).map(Number);
    const t = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
    if (t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && t.getUTCHours() === h && y >= 2000 && y < 2200) {
      return s;
    }
  }
  if (s === undefined || s === '') return '';
  return new Date().toISOString().slice(0, 19).replace('T', ' ');
}

// The verdict of a notification: { publish: { id, json } } for a payment,
// { ignore: true } for another trade status, null when refused.
function check(pub, raw) {
  const ps = parseForm(raw);
  if (ps === null || !signatureOk(pub, ps)) return null;
  if (ps.get('app_id') !== opt.appId || ps.get('seller_id') !== opt.sellerId) return null;
  const status = ps.get('trade_status');
  const order = ps.get('out_trade_no') ?? '';
  const tradeNo = ps.get('trade_no');
  const notifyId = ps.get('notify_id') ?? '';
  const amount = cents(ps.get('total_amount'));
  if (!token(status, STATUS_MAX) || !/^[1-9]\d{0,18}$/.test(order) || BigInt(order) > 2n ** 63n - 1n) return null;
  if (!token(tradeNo, TOKEN_MAX) || amount === null || (notifyId !== '' && !token(notifyId, TOKEN_MAX))) return null;
  if (status !== 'TRADE_SUCCESS' && status !== 'TRADE_FINISHED') return { ignore: true };
  const json = JSON.stringify({
    provider: 'alipay',
    out_trade_no: order,
    trade_no: tradeNo,
    total_amount: `${Math.floor(amount / 100)}.${String(amount % 100).padStart(2, '0')}`,
    gmt_payment: paidTime(ps.get('gmt_payment')),
    notify_id: notifyId,
    trade_status: status,
  });
  return { publish: { id: `pay.notify:${order}:${tradeNo}`, json } };
}

async function worker() {
  // Told to stop before it is ready: nothing to finish.
  let shutdown = () => process.exit(0);
  process.on('message', (m) => m === 'stop' && shutdown());
  process.on('SIGTERM', () => {}); // the primary stops the workers in order
  process.on('SIGINT', () => {});
  const pub = crypto.createPublicKey(fs.readFileSync(opt.publicKey));
  const conn = await amqp.connect(opt.amqp);
  const ch = await conn.createConfirmChannel();
  const returned = new Set(); // a return comes before the message's confirm
  let success = 0;
  let fail = 0;
  let stopping = false;
  ch.on('return', (m) => returned.add(m.properties.messageId));
  conn.on('close', () => {
    if (!stopping) {
      console.error(`peer: worker ${cluster.worker.id}: the broker closed the connection`);
      process.exit(1);
    }
  });

  const answer = (res, word) => {
    if (word === 'success') success++;
    else fail++;
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': word.length });
    res.end(word);
  };
  const handle = (req, res, raw) => {
    const type = (req.headers['content-type'] ?? '').split(/[; \t]/)[0].toLowerCase();
    const v = req.method === 'POST' && type === 'application/x-www-form-urlencoded' ? check(pub, raw) : null;
    if (v === null) return answer(res, 'fail');
    if (v.ignore) return answer(res, 'success');
    const { id, json } = v.publish;
    const props = {
      persistent: true,
      contentType: 'application/json',
      messageId: id,
      timestamp: Math.floor(Date.now() / 1000),
      mandatory: true,
    };
    ch.publish(opt.exchange, ROUTING_KEY, Buffer.from(json), props, (err) => {
      answer(res, err || returned.delete(id) ? 'fail' : 'success');
    });
  };
  const server = http.createServer((req, res) => {
    req.on('error', () => {}); // wrk closing its connections at the end of a run
    res.on('error', () => {});
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= BODY_MAX) chunks.push(c);
    });
    req.on('end', () => {
      if (size > BODY_MAX) return answer(res, 'fail');
      handle(req, res, Buffer.concat(chunks).toString('latin1'));
    });
  });
  server.listen(Number(opt.port), '127.0.0.1', () => process.send('ready'));

  shutdown = async () => {
    if (stopping) return;
    stopping = true;
    server.close();
    server.closeAllConnections();
    await ch.waitForConfirms().catch(() => {});
    console.log(`peer: worker ${cluster.worker.id} success=${success} fail=${fail}`);
    await conn.close().catch(() => {});
    process.exit(0);
  };
}

const main = cluster.isPrimary ? primary : worker;
main().catch((e) => {
  console.error(`peer: ${cluster.isPrimary ? 'primary' : `worker ${cluster.worker.id}`}: ${e.message}`);
  process.exit(1);
});
