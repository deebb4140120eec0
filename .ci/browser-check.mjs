#!/usr/bin/env node
// Drives the monitoring dashboard page (GET <prefix>/) in Debian's Chromium with playwright-core
// (never a browser download) and fails on any CSP violation, console error or page error.
//
//   BASE_URL=http://127.0.0.1:3000/admin/ ADMIN_TOKEN=... SCREENSHOT=/tmp/dashboard.png \
//     node .ci/browser-check.mjs
//
// Environment:
//   BASE_URL          the page's URL, ending in "/" (required)
//   ADMIN_TOKEN       the monitoring bearer token (required)
//   SCREENSHOT        full-page PNG written after the checks (default: <tmpdir>/tower-fortify-dashboard.png)
//   SCREENSHOT_PHONE  optional second PNG at 390x844
//   EXPECT_TRAFFIC    1 (default): traffic was sent, so a route row and a request count > 0 must show
//   EXPECT_NOTIFY     1: the notify extension is mounted, its queue and sinks must show (default 0)
//   EXPECT_INJECTION  1: an injection was blocked, a category row with a count > 0 must show (default 0)
//   EXPECT_EXTENSION  NAME: an extension section NAME with at least one figure > 0 must show (default none)
//   MIN_POLLS         successful polls to wait for (default 2)
//   CHECK_TIMEOUT_MS  overall bound (default 60000)
//   CHROMIUM          browser binary (default /usr/bin/chromium)
//   PLAYWRIGHT_PREFIX npm prefix holding node_modules/playwright-core (default: resolve normally)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const env = process.env;
const BASE_URL = env.BASE_URL;
const TOKEN = env.ADMIN_TOKEN;
const SCREENSHOT = env.SCREENSHOT || join(tmpdir(), 'tower-fortify-dashboard.png');
const SCREENSHOT_PHONE = env.SCREENSHOT_PHONE || '';
const flag = (name, dflt) => (env[name] ?? dflt) === '1';
const EXPECT_TRAFFIC = flag('EXPECT_TRAFFIC', '1');
const EXPECT_NOTIFY = flag('EXPECT_NOTIFY', '0');
const EXPECT_INJECTION = flag('EXPECT_INJECTION', '0');
const EXPECT_EXTENSION = env.EXPECT_EXTENSION || '';
const MIN_POLLS = Number(env.MIN_POLLS || 2);
const TIMEOUT_MS = Number(env.CHECK_TIMEOUT_MS || 60000);
const CHROMIUM = env.CHROMIUM || '/usr/bin/chromium';

const log = (...a) => console.log('browser-check:', ...a);
let context = null;
let userDataDir = null;
let passed = 0;

async function cleanup() {
  try { if (context) await context.close(); } catch { /* already gone */ }
  context = null;
  try { if (userDataDir) rmSync(userDataDir, { recursive: true, force: true }); } catch { /* best effort */ }
}
async function fail(message) {
  console.error(`browser-check: FAILED: ${String(message).replace(/\x1b\[[0-9;]*m/g, '')}`);
  await cleanup();
  process.exit(1);
}
function check(cond, what, detail = '') {
  if (!cond) throw new Error(`${what}${detail ? `: ${detail}` : ''}`);
  passed++;
  log(`ok - ${what}`);
}

const overall = setTimeout(() => {
  fail(`no result within ${TIMEOUT_MS} ms (overall timeout)`);
}, TIMEOUT_MS);

async function loadPlaywright() {
  if (env.PLAYWRIGHT_PREFIX) {
    const require = createRequire(join(env.PLAYWRIGHT_PREFIX, 'node_modules', 'noop.js'));
    return require('playwright-core');
  }
  return import('playwright-core');
}

async function main() {
  if (!BASE_URL || !TOKEN) throw new Error('BASE_URL and ADMIN_TOKEN must be set');
  const { chromium } = await loadPlaywright();

  userDataDir = mkdtempSync(join(tmpdir(), 'tf-chromium-'));
  // Without a fresh profile and these flags, Chromium's own background connections fail on a
  // closed network and log errors that have nothing to do with the page.
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
    timeout: 20000,
  });
  log(`chromium ${context.browser()?.version() ?? '(persistent context)'} from ${CHROMIUM}`);

  // Problems collected from every source; `phase` lets one step expect its own 401.
  const problems = [];
  let phase = 'load';
  const cspViolations = [];
  await context.exposeBinding('__tfReportCsp', (_source, v) => {
    cspViolations.push(v);
    problems.push(`CSP violation: ${v.directive} blocked ${v.blocked} (${v.source})`);
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const v = {
        directive: e.effectiveDirective || e.violatedDirective,
        blocked: e.blockedURI || '(inline)',
        source: `${e.sourceFile || ''}:${e.lineNumber || 0}`,
        sample: e.sample || '',
      };
      (window.__tfCsp = window.__tfCsp || []).push(v);
      try { window.__tfReportCsp(v); } catch { /* recorded in window.__tfCsp too */ }
    }, true);
  });

  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(20000);
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (phase === 'wrong-token' && /\b401\b/.test(text)) return; // the refusal this step asks for
    problems.push(`console error: ${text}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  const dashboardRequests = [];
  page.on('request', (req) => {
    if (/\/dashboard(\?|$)/.test(new URL(req.url()).pathname + new URL(req.url()).search)) {
      dashboardRequests.push({ url: req.url(), auth: req.headers().authorization || '', phase });
    }
  });
  page.on('response', (res) => {
    const status = res.status();
    if (status >= 400 && !(phase === 'wrong-token' && status === 401)) {
      problems.push(`HTTP ${status} for ${res.url()}`);
    }
  });
  const noProblems = (step) => check(problems.length === 0, `no CSP violation, console or page error ${step}`, problems.join(' | '));

  // 1. The page itself: no data, no token needed, a strict CSP.
  const res = await page.goto(BASE_URL, { waitUntil: 'load' });
  check(res && res.status() === 200, `GET ${BASE_URL} answers 200`, res ? `got ${res.status()}` : 'no response');
  check(/^text\/html/.test(res.headers()['content-type'] || ''), 'the page is text/html', res.headers()['content-type']);
  const csp = res.headers()['content-security-policy'] || '';
  check(csp !== '', 'the page has a Content-Security-Policy header');
  check(!/'unsafe-inline'|'unsafe-eval'|'unsafe-hashes'/.test(csp), 'the CSP has no unsafe-* source', csp);
  check(/script-src[^;]*'(sha256-|nonce-)/.test(csp) && /style-src[^;]*'(sha256-|nonce-)/.test(csp),
    'the CSP allows the inline script and style by hash or nonce', csp);
  await page.locator('[data-testid="login-form"]').waitFor({ state: 'visible' });
  check(await page.locator('[data-testid="dashboard"]').isHidden(), 'the dashboard is hidden before a token is given');
  check(dashboardRequests.length === 0, 'nothing is polled before a token is given');
  noProblems('on load');

  // 2. A wrong token is refused and asked for again.
  phase = 'wrong-token';
  await page.fill('[data-testid="token"]', `wrong-${Date.now()}`);
  await page.click('[data-testid="connect"]');
  await page.waitForFunction(() => /401/.test(document.querySelector('[data-testid="login-error"]')?.textContent || ''));
  check(await page.locator('[data-testid="login-form"]').isVisible(), 'a refused token (401) brings the token form back');
  check(dashboardRequests.some((r) => r.phase === 'wrong-token'), 'the wrong token was sent to /dashboard');
  noProblems('after the refused token');

  // 3. The right token: wait for polls and check the figures are filled from data.
  phase = 'polling';
  await page.fill('[data-testid="token"]', TOKEN);
  await page.click('[data-testid="connect"]');
  try {
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-testid="polls"]')?.getAttribute('data-value') || 0) >= n,
      MIN_POLLS, { timeout: Math.max(10000, MIN_POLLS * 2000 + 8000) });
  } catch {
    const status = await page.locator('[data-testid="poll-status"]').textContent().catch(() => '?');
    const err = await page.locator('[data-testid="login-error"]').textContent().catch(() => '?');
    throw new Error(`fewer than ${MIN_POLLS} successful polls (status: "${status}", login error: "${err}")`);
  }
  const polls = Number(await page.getAttribute('[data-testid="polls"]', 'data-value'));
  check(polls >= MIN_POLLS, `at least ${MIN_POLLS} polls answered`, `polls=${polls}`);
  check(await page.locator('[data-testid="login-form"]').isHidden(), 'the token form is gone once connected');
  check(await page.locator('[data-testid="dashboard"]').isVisible(), 'the dashboard is shown');

  const polled = dashboardRequests.filter((r) => r.phase === 'polling');
  check(polled.length >= MIN_POLLS && polled.every((r) => r.auth === `Bearer ${TOKEN}`),
    'every poll sends Authorization: Bearer <token>', `${polled.length} polls`);
  check(polled.every((r) => !r.url.includes(TOKEN)), 'the token is never in a polled URL');
  check(!page.url().includes(TOKEN), 'the token is not in the page URL');
  const stored = await page.evaluate((t) => {
    const all = [];
    for (const s of [localStorage, sessionStorage]) {
      for (let i = 0; i < s.length; i++) all.push(s.key(i), s.getItem(s.key(i)));
    }
    all.push(document.cookie, document.querySelector('[data-testid="token"]').value);
    return all.some((v) => v && v.includes(t));
  }, TOKEN);
  check(!stored, 'the token is not kept in storage, cookies or the input');
  const cookies = await context.cookies();
  check(!cookies.some((c) => c.value.includes(TOKEN)), 'no cookie holds the token');

  const fig = async (testid) => page.getAttribute(`[data-testid="${testid}"]`, 'data-value');
  const health = await fig('health');
  check(['healthy', 'degraded', 'unhealthy'].includes(health), 'health status shown', `health=${health}`);
  const updated = await fig('updated');
  check(!Number.isNaN(Date.parse(updated || '')), '"last updated" is set', `updated=${updated}`);

  if (EXPECT_TRAFFIC) {
    const rows = await page.locator('[data-testid="route-row"]').count();
    check(rows >= 1, 'at least one route row', `rows=${rows}`);
    const total = Number(await fig('total-requests'));
    check(total > 0, 'the requests counter is a number > 0', `total-requests=${total}`);
    const rps = Number(await fig('total-rps'));
    check(rps > 0, 'requests/s is a number > 0', `total-rps=${rps}`);
    const first = page.locator('[data-testid="route-row"]:not(.idle)').first();
    const route = await first.getAttribute('data-route');
    const p50 = Number(await first.locator('[data-testid="route-p50"]').getAttribute('data-value'));
    const p99 = Number(await first.locator('[data-testid="route-p99"]').getAttribute('data-value'));
    check(p50 > 0 && p99 >= p50, `route ${route} shows p50 and p99 latency`, `p50=${p50} p99=${p99}`);
    const points = Number(await page.getAttribute('[data-testid="chart-total-rps"]', 'data-points'));
    const d = await page.getAttribute('[data-testid="chart-total-rps"] path.series', 'd');
    check(points >= MIN_POLLS && /^M[\d.]+ [\d.]+L/.test(d || ''), 'the requests/s chart has a drawn line', `points=${points} d=${(d || '').slice(0, 40)}`);
    const latD = await first.locator('[data-testid="route-chart-latency"] path.series').first().getAttribute('d');
    check(/^M/.test(latD || ''), `route ${route} has a drawn latency chart`);
    for (const id of ['rate-limited', 'untrusted-hosts', 'injection-blocked-total']) {
      const v = await fig(id);
      check(v !== '' && v !== null && Number.isFinite(Number(v)), `${id} is a number`, `${id}=${v}`);
    }
  }
  if (EXPECT_NOTIFY) {
    check(await page.locator('[data-testid="notify"]').isVisible(), 'the notify section is shown');
    for (const id of ['notify-queued', 'notify-dead-letters']) {
      const v = await fig(id);
      check(v !== '' && v !== null && Number.isFinite(Number(v)), `${id} is a number`, `${id}=${v}`);
    }
    const sinks = await page.locator('[data-testid="sink-row"]').count();
    check(sinks >= 1, 'at least one notification sink row', `sinks=${sinks}`);
  }
  if (EXPECT_INJECTION) {
    const counts = await page.locator('[data-testid="injection-row"] [data-testid="injection-blocked"]')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));
    check(counts.some((n) => n > 0), 'an injection category row with blocked > 0', JSON.stringify(counts));
  }

  if (EXPECT_EXTENSION) {
    const section = page.locator(`[data-testid="extension"][data-extension="${EXPECT_EXTENSION}"]`);
    check(await section.isVisible(), `the ${EXPECT_EXTENSION} section is shown`);
    const values = await section.locator('[data-testid="extension-value"]')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));
    check(values.some((n) => n > 0), `the ${EXPECT_EXTENSION} section shows figures, one > 0`, JSON.stringify(values));
  }

  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  log(`screenshot: ${SCREENSHOT}`);

  // 4. Phone width: nothing wider than the screen.
  await page.setViewportSize({ width: 360, height: 740 });
  await page.waitForTimeout(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, 'no horizontal overflow at 360 px wide', `overflow=${overflow}px`);
  if (SCREENSHOT_PHONE) {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: SCREENSHOT_PHONE, fullPage: true });
    log(`phone screenshot: ${SCREENSHOT_PHONE}`);
  }

  const inPage = await page.evaluate(() => window.__tfCsp || []);
  check(inPage.length === 0 && cspViolations.length === 0, 'no securitypolicyviolation event', JSON.stringify(inPage));
  noProblems('during polling');
  log(`passed ${passed} checks (${polls} polls)`);
}

main()
  .then(async () => { clearTimeout(overall); await cleanup(); process.exit(0); })
  .catch((e) => fail(e && e.message ? e.message : String(e)));
