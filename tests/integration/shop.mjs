// What the integration suites share: where the running shop is (the SHOP_*
// variables scripts/services writes to <run>/test-env.sh), SQL against its
// database with the mariadb client, publishing an event with shop-admin, and
// waiting for the asynchronous part (consumers) to get somewhere.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const port = process.env.SHOP_HTTP_PORT || '8080';
export const dbPort = process.env.SHOP_DB_PORT || '23306';
export const runDir = process.env.SHOP_RUN_DIR || join(repo, 'run');
export const binDir = process.env.SHOP_BIN_DIR || join(repo, 'build', 'src');
export const base = `http://127.0.0.1:${port}`;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Rows (arrays of strings) of a query, as the shop user.
export function sql(query) {
  const out = execFileSync('mariadb', ['-h', '127.0.0.1', '-P', dbPort, '-u', 'shop', '-pshop',
    'shop', '-N', '-B', '-e', query], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}
export const one = (query) => sql(query)[0][0];
export const count = (query) => Number(one(query));

// Publish an event to the shop's exchange, confirmed by the broker.
export function publish(key, messageId, body) {
  execFileSync(join(binDir, 'shop-admin'), ['--config', join(runDir, 'shop.conf'), 'publish',
    key, messageId, typeof body === 'string' ? body : JSON.stringify(body)],
  { env: process.env, stdio: ['ignore', 'ignore', 'inherit'] });
}

// fn() (sync or async) until check(value) holds or ms have passed; the last
// value either way, for the caller's assertion to show.
export async function eventually(fn, check, ms = 30000, delay = 250) {
  const end = Date.now() + ms;
  let v = await fn();
  while (!check(v) && Date.now() < end) {
    await sleep(delay);
    v = await fn();
  }
  return v;
}

// Money as the API writes it, and back to cents.
export const fmt = (c) => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`;
export const cents = (s) => Math.round(Number(s) * 100);
