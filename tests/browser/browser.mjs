// What the browser tests share: the running shop (tests/integration/shop.mjs)
// and Debian's chromium, headless, driven by playwright-core.
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { runDir } from '../integration/shop.mjs';

export { base, setting } from '../integration/shop.mjs';

// Where the tests save their screenshots.
export const shots = join(runDir, 'screenshots');

// A headless chromium; playwright makes and removes its own temporary
// profile directory. Resolves to { browser, cleanup }.
export async function launch() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return { browser, cleanup: () => browser.close() };
}

// The errors page reports from now on (uncaught exceptions, console errors),
// collected for the test to assert that there are none.
export function pageErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  return errors;
}
