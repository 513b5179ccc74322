// review.mjs: policies in the audit view, through a real gateway. The Go
// test (TestReviewInBrowserEndToEnd) runs the shipped policies and a pgx
// client behind a control API:
//
//   HOOP_URL, HOOP_TOKEN  the API listener and its admin token (required)
//   CTRL_URL  /start -> {id}; /exec?sql=[&mode=exec] -> {n};
//             /result?n=[&wait=1] -> {done, tag, code, message}; /end
//   SHOTS     directory for screenshots (optional)
//
// A blocked statement shows its verdict and the client gets the refusal; a
// held one shows Approve / Reject, the pending list links to it, and each
// decision reaches both the client and the badge. Prints one JSON line on
// success; exits non-zero on the first failed expectation.
import { launch, relayConsole } from './browser.mjs';

const need = (k) => {
  if (!process.env[k]) throw new Error(`${k} is required`);
  return process.env[k];
};
const HOOP = need('HOOP_URL');
const TOKEN = need('HOOP_TOKEN');
const CTRL = need('CTRL_URL');
const SHOTS = process.env.SHOTS || '';
const T = 20000; // bound per expectation: a hang is a failure, not a timing check

const log = (...a) => process.stderr.write(`review: ${a.join(' ')}\n`);

async function ctrl(path) {
  const r = await fetch(CTRL + path);
  if (!r.ok) throw new Error(`control ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}
const exec = (sql, mode = '') => ctrl(`/exec?sql=${encodeURIComponent(sql)}${mode ? `&mode=${mode}` : ''}`);
const result = (n, wait = true) => ctrl(`/result?n=${n}${wait ? '&wait=1' : ''}`);

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

// verdicts returns [statement text, verdict kind, badge, result] of the
// rendered statement rows.
const verdicts = (page) => page.$$eval('[data-testid=statement]:not([hidden])', (rows) => rows.map((r) => {
  const v = r.querySelector('[data-testid=verdict]');
  return [r.querySelector('.txt').textContent, v ? v.dataset.kind : '', v ? v.textContent : '', r.querySelector('.res').textContent];
}));

// waitRow waits for the nth (from 0) statement row with text whose verdict
// is kind, and returns its badge and result.
async function waitRow(page, text, nth, kind, resultIncludes = '') {
  const h = await page.waitForFunction(({ text, nth, kind, resultIncludes }) => {
    const rows = [...document.querySelectorAll('[data-testid=statement]:not([hidden])')].filter((r) => r.querySelector('.txt').textContent.trim() === text);
    const r = rows[nth];
    if (!r) return null;
    const v = r.querySelector('[data-testid=verdict]');
    if (!v || v.dataset.kind !== kind || !r.querySelector('.res').textContent.includes(resultIncludes)) return null;
    return { badge: v.textContent, result: r.querySelector('.res').textContent, review: v.dataset.review || '' };
  }, { text, nth, kind, resultIncludes }, { timeout: T, polling: 20 }).catch(async (e) => {
    throw new Error(`no ${kind} row ${nth} for ${text} (${e.message}); rows: ${JSON.stringify(await verdicts(page))}`);
  });
  return h.jsonValue();
}

const heldButton = (testid) => `[data-testid=statement]:has([data-testid=${testid}]) [data-testid=${testid}]`;

const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1280, height: 560 } });
relayConsole(page);
try {
  await page.goto(`${HOOP}/`);
  await page.fill('[data-testid=token-input]', TOKEN);
  await page.click('[data-testid=sign-in]');
  await page.waitForSelector('[data-testid=sign-out]', { timeout: T });

  const { id } = await ctrl('/start');
  await page.goto(`${HOOP}/#/s/${encodeURIComponent(id)}`);
  await page.waitForSelector('[data-testid=session-status][data-state=live]', { timeout: T });
  log('live', id);

  // Blocked: the client gets the refusal, the row its verdict and error.
  let r = await result((await exec('drop table t')).n);
  expect(r.code === '42501' && r.message.startsWith('hoop: '), `drop table t: client got ${JSON.stringify(r)}, want 42501 "hoop: …"`);
  const blocked = await waitRow(page, 'drop table t', 0, 'blocked', '42501');
  expect(blocked.badge.startsWith('blocked — risk ') && blocked.badge.includes('guardrail/no-drop') && blocked.badge.includes('not allowed through hoop'),
    `blocked badge: ${blocked.badge}`);
  expect(!(await page.$(heldButton('review-approve'))), 'a blocked statement offers Approve');
  await page.click('[data-testid=statement]:has([data-kind=blocked]) .txt');
  await page.waitForSelector('.detail:not([hidden])', { timeout: T });
  await shot(page, 'session-blocked');
  log('blocked', blocked.badge);

  // Held: pending with the buttons, the client still waiting.
  const del1 = (await exec('delete from t')).n;
  const held = await waitRow(page, 'delete from t', 0, 'held');
  expect(/^held — risk \d+ — analyzer\/\S+ — ./.test(held.badge), `held badge: ${held.badge}`);
  expect(held.review, 'held badge names no review');
  await page.waitForSelector(heldButton('review-approve'), { timeout: T });
  await page.waitForSelector(heldButton('review-reject'), { timeout: T });
  expect(!(await result(del1, false)).done, 'the held delete answered before a decision');
  log('held', held.badge);

  // The session list shows it pending and links to the session.
  await page.click('a.back');
  const pending = `[data-testid=pending-reviews]:not([hidden]) [data-testid=pending-review][data-id="${held.review}"]`;
  await page.waitForSelector(pending, { timeout: T });
  await page.waitForSelector(`[data-testid=session-row][data-id="${id}"] [data-testid=session-held]`, { timeout: T });
  await shot(page, 'reviews-pending');
  await page.click(pending);
  await page.waitForSelector('[data-testid=session-status][data-state=live]', { timeout: T });
  await page.waitForSelector(heldButton('review-approve'), { timeout: T });
  await waitRow(page, 'drop table t', 0, 'blocked', '42501');
  await page.click('[data-testid=statement]:has([data-testid=review-approve]) .txt'); // the detail pane shows its verdict
  await shot(page, 'session-held');

  // Approve: the client's delete completes; the badge says who approved.
  await page.click(heldButton('review-approve'));
  r = await result(del1);
  expect(r.tag === 'DELETE 3', `approved delete: client got ${JSON.stringify(r)}, want DELETE 3`);
  const approved = await waitRow(page, 'delete from t', 0, 'approved', 'DELETE 3');
  expect(approved.badge.startsWith('approved by audit view'), `approved badge: ${approved.badge}`);
  log('approved', approved.badge);

  // Reject (extended protocol this time), with a reason.
  r = await result((await exec("insert into t values (10, 'kept')")).n);
  expect(r.tag === 'INSERT 0 1', `insert: ${JSON.stringify(r)}`);
  const del2 = (await exec('delete from t', 'exec')).n;
  await waitRow(page, 'delete from t', 1, 'held');
  await page.click(heldButton('review-reject'));
  await page.waitForSelector('[data-testid=reject-dialog][open]', { timeout: T });
  await page.fill('[data-testid=review-reason]', 'not during the freeze');
  await page.click('[data-testid=review-reject-confirm]');
  r = await result(del2);
  expect(r.code === '42501' && r.message.startsWith('hoop: statement rejected by a reviewer'), `rejected delete: client got ${JSON.stringify(r)}`);
  const rejected = await waitRow(page, 'delete from t', 1, 'rejected', '42501');
  expect(rejected.badge.startsWith('rejected by audit view') && rejected.badge.endsWith('not during the freeze'), `rejected badge: ${rejected.badge}`);
  await waitRow(page, 'delete from t', 0, 'approved', 'DELETE 3'); // the first one kept its verdict
  log('rejected', rejected.badge);

  // Nothing is pending any more.
  await page.click('a.back');
  await page.waitForSelector(`[data-testid=session-row][data-id="${id}"]`, { timeout: T });
  await page.waitForSelector('[data-testid=pending-reviews][hidden]', { state: 'attached', timeout: T });

  // The replay of the ended session puts every verdict on its statement.
  await ctrl('/end');
  await page.goto(`${HOOP}/#/s/${encodeURIComponent(id)}`);
  await page.waitForSelector('[data-testid=session-status][data-state=ended]', { timeout: T });
  await waitRow(page, 'drop table t', 0, 'blocked', '42501');
  await waitRow(page, 'delete from t', 0, 'approved', 'DELETE 3');
  await waitRow(page, 'delete from t', 1, 'rejected', '42501');
  const rows = await verdicts(page);
  const others = rows.filter(([text]) => text !== 'drop table t' && text !== 'delete from t');
  expect(others.every(([, kind]) => kind === ''), `verdicts on other statements: ${JSON.stringify(others)}`);
  expect(!(await page.$('[data-testid=review-approve]')), 'Approve offered in an ended session');
  log('replay ok');
  process.stdout.write(JSON.stringify({ ok: true, rows }) + '\n');
} catch (e) {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/review-failure.png` }).catch(() => {});
  log('FAILED:', e.stack || e);
  process.exitCode = 1;
} finally {
  await browser.close();
}
