// browser.mjs: launches the system Chromium through playwright-core for the
// browser tests. Never downloads a browser: the Debian package is used
// (see install.sh).
import { chromium } from 'playwright-core';

export const chromiumPath = process.env.HOOP_CHROMIUM || '/usr/bin/chromium';

export const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
];

/** Launches headless Chromium. */
export function launch() {
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
}

/** Forwards a page's console and errors to stderr, for test logs. */
export function relayConsole(page, tag = 'page') {
  page.on('console', (m) => process.stderr.write(`[${tag}] ${m.type()}: ${m.text()}\n`));
  page.on('pageerror', (e) => process.stderr.write(`[${tag}] error: ${e.message}\n`));
}
