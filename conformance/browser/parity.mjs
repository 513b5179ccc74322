// parity.mjs URL: opens the parity page in headless Chromium, waits for
// the result and prints it as JSON on stdout.
import { launch, relayConsole } from '../../web/e2e/browser.mjs';

const url = process.argv[2];
const browser = await launch();
try {
  const page = await browser.newPage();
  relayConsole(page, 'parity');
  await page.goto(url);
  await page.waitForFunction(() => window.__parity !== undefined, null, { timeout: 120000, polling: 50 });
  process.stdout.write(JSON.stringify(await page.evaluate(() => window.__parity)));
} finally {
  await browser.close();
}
