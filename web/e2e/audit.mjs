// audit.mjs: drives the audit view in headless Chromium the way an auditor
// would. The Go test that runs it serves the view and a small control API
// (CTRL) that makes things happen in a session: in the UI test it writes
// frames into a store; in the gateway test it runs SQL through hoop.
//
//   HOOP_URL   the API listener serving the view     (required)
//   HOOP_TOKEN the admin token                        (required)
//   CTRL_URL   control API: /start, /emit?sql=, /drop, /end (required)
//   SHOTS      directory for screenshots              (optional)
//   BIG_ID     an ended session with many statements  (optional)
//   BIG_COUNT  its statement count
//   EXPECT_ERRORS set when the decoder reports results and errors
//
// Prints one JSON line of measurements on success; exits non-zero on the
// first failed expectation.
import { launch, relayConsole } from './browser.mjs';

const env = (k, def) => {
  const v = process.env[k];
  if (v === undefined && def === undefined) throw new Error(`${k} is required`);
  return v ?? def;
};
const HOOP = env('HOOP_URL');
const TOKEN = env('HOOP_TOKEN');
const CTRL = env('CTRL_URL');
const SHOTS = env('SHOTS', '');
const BIG_ID = env('BIG_ID', '');
const BIG_COUNT = Number(env('BIG_COUNT', '0'));
const EXPECT_ERRORS = env('EXPECT_ERRORS', '') !== ''; // the decoder reports results and errors (PostgreSQL)
const T = 15000; // generous bound per expectation; a hang is a failure, not a timing check

const log = (...a) => process.stderr.write(`audit: ${a.join(' ')}\n`);
const metrics = {};

async function ctrl(path) {
  const r = await fetch(CTRL + path);
  if (r.status === 404) return null;
  if (!r.ok) throw new Error(`control ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

const statusState = (page) => page.getAttribute('[data-testid=session-status]', 'data-state');
const count = async (page) => Number(await page.textContent('[data-testid=query-count]'));

async function waitCount(page, n, timeout = T) {
  await page.waitForFunction((n) => {
    const el = document.querySelector('[data-testid=query-count]');
    return el && Number(el.textContent) === n;
  }, n, { timeout, polling: 20 });
}

async function waitState(page, state, timeout = T) {
  await page.waitForSelector(`[data-testid=session-status][data-state=${state}]`, { timeout });
}

// visibleStatements returns the texts of rendered statement rows.
const visibleStatements = (page) => page.$$eval('[data-testid=statement]:not([hidden]) .txt', (els) => els.map((e) => e.textContent));

const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
relayConsole(page);
try {
  // Sign-in: a wrong token is refused, the right one lists sessions.
  await page.goto(`${HOOP}/`);
  await page.fill('[data-testid=token-input]', 'not-the-token');
  await page.click('[data-testid=sign-in]');
  await page.waitForSelector('.signin .error:not([hidden])', { timeout: T });
  await page.fill('[data-testid=token-input]', TOKEN);
  await page.click('[data-testid=sign-in]');
  await page.waitForSelector('[data-testid=sign-out]', { timeout: T });
  log('signed in');

  // A new session appears in the list by itself (polling).
  const { id } = await ctrl('/start');
  const row = `[data-testid=session-row][data-id="${id}"]`;
  await page.waitForSelector(row, { timeout: T });
  log('session row', id);

  await page.click(row);
  await waitState(page, 'live');
  await page.evaluate(() => {
    const el = document.querySelector('[data-testid=session-status]');
    window.__states = [el.dataset.state];
    new MutationObserver(() => window.__states.push(el.dataset.state)).observe(el, { attributes: true, attributeFilter: ['data-state'] });
  });
  log('live');

  // Statements show up while the session runs; the count is the decoder's.
  const sqls = ["select 1", "select 'hello auditor' as greeting", "select * from no_such_table", "select 42 as answer", "select count(*) from pg_class"];
  let expected = 0;
  for (const sql of sqls) {
    const t0 = Date.now();
    const r = await ctrl(`/emit?sql=${encodeURIComponent(sql)}`);
    expected = r.statements;
    await page.waitForFunction((sql) => [...document.querySelectorAll('[data-testid=statement] .txt')].some((e) => e.textContent.includes(sql)), sql, { timeout: T, polling: 10 });
    (metrics.statementLatencyMs ||= []).push(Date.now() - t0);
  }
  await waitCount(page, expected);
  if (EXPECT_ERRORS) {
    // The server's error is shown with the statement that caused it.
    await page.waitForFunction(() => [...document.querySelectorAll('.vrow.failed')].some((e) => e.textContent.includes('no_such_table') && e.textContent.includes('42P01')), null, { timeout: T });
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=statement]')].some((e) => e.textContent.includes('select 42') && e.textContent.includes('SELECT 1')), null, { timeout: T });
  }
  log('statements', expected);

  // The filter narrows the list.
  await page.fill('[data-testid=filter]', 'hello auditor');
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-testid=statement]:not([hidden])')];
    return rows.length === 1 && rows[0].textContent.includes('hello auditor');
  }, null, { timeout: T, polling: 20 });
  await page.fill('[data-testid=filter]', '');
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=statement]:not([hidden])').length >= n, sqls.length, { timeout: T });
  await page.click('[data-testid=statement] >> nth=1');
  await shot(page, 'session-live');
  log('filter ok');

  // A policy verdict shows on its statement (when the control API can
  // make one: the fake API publishes it; the gateway test runs no policy).
  {
    const r = await ctrl(`/emit?sql=${encodeURIComponent('drop table orders')}&block=no-drop`);
    expected = r.statements;
    await waitCount(page, expected);
    if (r.blocked) {
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=statement]')].some((e) => e.textContent.includes('drop table orders') && (e.querySelector('[data-testid=verdict]') || {}).textContent === 'blocked — risk 90 — no-drop — guardrail'), null, { timeout: T });
      log('verdict ok');
    }
  }

  // Back to the list (the live row is first), then into the session again:
  // the history is caught up and the stream goes on live.
  await page.click('a.back');
  await page.waitForSelector(`[data-testid=session-row]:first-child[data-id="${id}"][data-status=live]`, { timeout: T });
  await shot(page, 'session-list');
  await page.click(row);
  await waitState(page, 'live');
  await waitCount(page, expected);
  await page.evaluate(() => {
    const el = document.querySelector('[data-testid=session-status]');
    window.__states = [el.dataset.state];
    new MutationObserver(() => window.__states.push(el.dataset.state)).observe(el, { attributes: true, attributeFilter: ['data-state'] });
  });
  log('reopen ok');

  // A dropped stream says so, resumes with Last-Event-ID, duplicates nothing.
  if (await ctrl('/drop')) {
    await page.waitForFunction(() => window.__states.includes('lost'), null, { timeout: T });
    await waitState(page, 'live');
    const r = await ctrl(`/emit?sql=${encodeURIComponent("select 'after reconnect'")}`);
    expected = r.statements;
    await waitCount(page, expected);
    const texts = await visibleStatements(page);
    if (new Set(texts).size !== texts.length) throw new Error(`duplicate statements after reconnect: ${texts}`);
    log('reconnect ok');
  }

  // Ending the session shows Ended; a reload replays it.
  await ctrl('/end');
  await waitState(page, 'ended');
  const liveCount = await count(page);
  await page.reload();
  await waitState(page, 'ended');
  await waitCount(page, liveCount);
  const replayed = await visibleStatements(page);
  for (const sql of sqls) {
    if (!replayed.some((t) => t.includes(sql))) throw new Error(`replay lacks ${sql}: ${replayed}`);
  }
  log('replay ok', liveCount);

  await page.click('a.back');
  await page.waitForSelector(`${row}[data-status=ended]`, { timeout: T });

  // A long session: every statement is counted, few rows exist in the DOM.
  if (BIG_ID) {
    const t0 = Date.now();
    await page.goto(`${HOOP}/#/s/${encodeURIComponent(BIG_ID)}`);
    await waitCount(page, BIG_COUNT, 180000);
    metrics.bigReplayMs = Date.now() - t0;
    metrics.bigDomRows = await page.$$eval('.vrow', (els) => els.length);
    if (metrics.bigDomRows > 400) throw new Error(`${metrics.bigDomRows} rows in the DOM: the list is not virtualised`);
    // Scrolling to the top and filtering stay responsive.
    const t1 = Date.now();
    await page.$eval('.stmts', (el) => { el.scrollTop = 0; });
    await page.waitForSelector('.vrow[data-index="0"]', { timeout: T });
    await page.fill('[data-testid=filter]', 'select 99999');
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=statement]:not([hidden])')].some((e) => e.textContent.includes('select 99999')), null, { timeout: T });
    metrics.bigScrollFilterMs = Date.now() - t1;
    log('big ok', JSON.stringify(metrics));
  }
  // Signing out forgets the token.
  await page.click('[data-testid=sign-out]');
  await page.waitForSelector('[data-testid=token-input]', { timeout: T });
  if (await page.evaluate(() => Object.keys(sessionStorage).length)) throw new Error('token still in sessionStorage after sign-out');
  process.stdout.write(JSON.stringify({ ok: true, metrics }) + '\n');
} catch (e) {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/failure.png` }).catch(() => {});
  log('FAILED:', e.stack || e);
  process.exitCode = 1;
} finally {
  await browser.close();
}
