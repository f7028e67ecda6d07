// Browser end-to-end test of pyrite serving a Django admin, driven as a person would: headless
// Chromium (Debian's, never a downloaded one) through playwright-core. It logs in, adds a picture
// with a non-ASCII title and a 2 MiB PNG, opens its change page, reads the title back from the form
// and the file back through pyrite's media mount (sha256 in the page), checks that the admin's CSS
// came from pyrite's static mount as text/css, logs out and checks it is logged out.
// Run by scripts/test-browser, which sets the E2E_* variables below; exits 0 only if every check
// passed, else 1 with one FAIL line naming the step and a screenshot at E2E_SCREENSHOT.
'use strict';

const { chromium } = require('playwright-core');

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`admin_e2e: ${name} is not set (run scripts/test-browser)`);
    process.exit(2);
  }
  return value;
};

const BASE = env('E2E_BASE_URL');
const USER = env('E2E_USER');
const PASSWORD = env('E2E_PASSWORD');
const UPLOAD = env('E2E_UPLOAD');
const UPLOAD_SHA256 = env('E2E_UPLOAD_SHA256');
const UPLOAD_SIZE = Number(env('E2E_UPLOAD_SIZE'));
const UPLOAD_WIDTH = Number(env('E2E_UPLOAD_WIDTH'));
const UPLOAD_HEIGHT = Number(env('E2E_UPLOAD_HEIGHT'));
const CHROMIUM = env('E2E_CHROMIUM');
const PROFILE = env('E2E_PROFILE');
const SCREENSHOT = env('E2E_SCREENSHOT');
const DEADLINE_MS = Number(process.env.E2E_DEADLINE_MS || 120000);

// Latin with diacritics, an em dash, CJK and an astral-plane emoji (a UTF-16 surrogate pair).
const TITLE = 'Žluťoučký kůň — 日本語 — emoji 🐍';

// Without the background-networking flags Chromium keeps calling home, which on a closed network
// is a stream of refused connections; QUIC is off so nothing tries UDP either.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let page = null;
let step = 'launch';
let checks = 0;
const t0 = Date.now();

function ok(detail) {
  checks += 1;
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  console.log(`ok   ${String(checks).padStart(2)} ${step}: ${detail}  [${secs}s]`);
}

class Mismatch extends Error {}

function expect(cond, message) {
  if (!cond) throw new Mismatch(message);
}

/** Code points of a string, for a mismatch message that shows what really differs. */
const codePoints = (s) => [...s].map((c) => 'U+' + c.codePointAt(0).toString(16).toUpperCase()).join(' ');

async function fail(message) {
  console.error(`FAIL ${step}: ${message}`);
  if (page) {
    console.error(`     page: ${page.url()}`);
    try {
      await page.screenshot({ path: SCREENSHOT, fullPage: true, timeout: 10000 });
      console.error(`     screenshot: ${SCREENSHOT}`);
    } catch (e) {
      console.error(`     (no screenshot: ${e.message.split('\n')[0]})`);
    }
  }
  process.exit(1);
}

async function main() {
  const context = await chromium.launchPersistentContext(PROFILE, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    timeout: 60000,
    acceptDownloads: false,
  });
  context.setDefaultTimeout(20000);
  context.setDefaultNavigationTimeout(30000);
  page = context.pages()[0] || (await context.newPage());
  ok(`${CHROMIUM} ${context.browser() ? context.browser().version() : ''}`.trim());

  // Every response and failed request of the whole session: none may be an error.
  const responses = new Map();
  const problems = [];
  context.on('response', (r) => {
    responses.set(r.url(), r);
    if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) {
      problems.push(`${r.status()} ${r.request().method()} ${r.url()}`);
    }
  });
  context.on('requestfailed', (r) => {
    problems.push(`failed ${r.method()} ${r.url()}: ${r.failure() && r.failure().errorText}`);
  });

  step = 'login page';
  await page.goto(`${BASE}/admin/`);
  expect(
    page.url() === `${BASE}/admin/login/?next=/admin/`,
    `/admin/ while logged out should land on the login page, got ${page.url()}`,
  );
  await page.locator('#id_username').waitFor();
  ok(page.url());

  step = 'admin CSS';
  const cssUrl = `${BASE}/static/admin/css/base.css`;
  const css = responses.get(cssUrl);
  expect(css, `the login page did not load ${cssUrl}`);
  const cssType = css.headers()['content-type'] || '';
  expect(css.status() === 200, `${cssUrl} answered ${css.status()}`);
  expect(cssType.startsWith('text/css'), `${cssUrl} has Content-Type ${JSON.stringify(cssType)}`);
  const cssServer = css.headers()['server'] || '';
  expect(cssServer === 'pyrite', `${cssUrl} came from Server: ${JSON.stringify(cssServer)}`);
  const rules = await page.evaluate((href) => {
    const sheet = [...document.styleSheets].find((s) => s.href === href);
    return sheet ? sheet.cssRules.length : -1;
  }, cssUrl);
  expect(rules > 0, `base.css is not an applied stylesheet (rules: ${rules})`);
  ok(`${css.status()} ${cssType}, ${rules} rules applied`);

  step = 'log in';
  await page.fill('#id_username', USER);
  await page.fill('#id_password', PASSWORD);
  await Promise.all([page.waitForURL(`${BASE}/admin/`), page.click('input[type="submit"]')]);
  const tools = await page.locator('#user-tools').innerText();
  expect(tools.includes(USER.toUpperCase()) || tools.includes(USER), `#user-tools reads ${JSON.stringify(tools)}`);
  ok(`as ${USER}`);

  step = 'add picture';
  await page.goto(`${BASE}/admin/gallery/picture/add/`);
  await page.fill('#id_title', TITLE);
  await page.setInputFiles('#id_image', UPLOAD);
  await Promise.all([
    page.waitForURL(`${BASE}/admin/gallery/picture/`),
    page.click('input[name="_save"]'),
  ]);
  const message = await page.locator('.messagelist .success').innerText();
  expect(message.includes(TITLE), `the success message reads ${JSON.stringify(message)}`);
  ok(`${UPLOAD_SIZE} bytes uploaded; ${JSON.stringify(message)}`);

  step = 'change page';
  await Promise.all([
    page.waitForURL(/\/admin\/gallery\/picture\/\d+\/change\/$/),
    page.locator('#result_list').getByRole('link', { name: TITLE, exact: true }).click(),
  ]);
  ok(page.url());

  step = 'title read back';
  const value = await page.locator('#id_title').inputValue();
  expect(
    value === TITLE,
    `the form holds ${JSON.stringify(value)} (${codePoints(value)}), ` +
      `expected ${JSON.stringify(TITLE)} (${codePoints(TITLE)})`,
  );
  ok(JSON.stringify(value));

  step = 'file read back';
  const href = await page.locator('p.file-upload a').getAttribute('href');
  expect(href && href.startsWith('/media/pictures/'), `the file link is ${JSON.stringify(href)}`);
  const got = await page.evaluate(async (url) => {
    const resp = await fetch(url, { cache: 'no-store' });
    const buf = await resp.arrayBuffer();
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
    const img = new Image();
    img.src = url;
    await img.decode();
    return {
      status: resp.status,
      type: resp.headers.get('content-type'),
      server: resp.headers.get('server'),
      length: buf.byteLength,
      sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join(''),
      width: img.naturalWidth,
      height: img.naturalHeight,
    };
  }, href);
  expect(got.status === 200, `${href} answered ${got.status}`);
  expect(got.server === 'pyrite', `${href} came from Server: ${JSON.stringify(got.server)}`);
  expect(got.type === 'image/png', `${href} has Content-Type ${JSON.stringify(got.type)}`);
  expect(got.length === UPLOAD_SIZE, `${href} is ${got.length} bytes, the upload ${UPLOAD_SIZE}`);
  expect(got.sha256 === UPLOAD_SHA256, `${href} has sha256 ${got.sha256}, the upload ${UPLOAD_SHA256}`);
  expect(
    got.width === UPLOAD_WIDTH && got.height === UPLOAD_HEIGHT,
    `${href} decodes as ${got.width}x${got.height}, the upload is ${UPLOAD_WIDTH}x${UPLOAD_HEIGHT}`,
  );
  ok(`${decodeURIComponent(href)}: ${got.length} bytes, sha256 ${got.sha256.slice(0, 16)}…, ` +
    `${got.type} ${got.width}x${got.height}`);

  step = 'log out';
  await Promise.all([
    page.waitForURL(`${BASE}/admin/logout/`),
    page.click('#logout-form button[type="submit"]'),
  ]);
  const title = await page.title();
  expect(title.startsWith('Logged out'), `the logout page's title is ${JSON.stringify(title)}`);
  await page.getByRole('link', { name: 'Log in again' }).waitFor();
  const cookies = await context.cookies(BASE);
  expect(!cookies.some((c) => c.name === 'sessionid'), 'the session cookie is still set');
  ok(`${JSON.stringify(title)}, no session cookie`);

  step = 'logged out';
  await page.goto(`${BASE}/admin/gallery/picture/`);
  expect(
    page.url().startsWith(`${BASE}/admin/login/`),
    `the change list after logging out should redirect to the login page, got ${page.url()}`,
  );
  ok(`the change list redirects to ${page.url().slice(BASE.length)}`);

  step = 'no failed requests';
  expect(problems.length === 0, problems.join('; '));
  ok(`${responses.size} distinct URLs, all below 400`);

  await context.close();
}

const watchdog = setTimeout(() => fail(`the whole run took over ${DEADLINE_MS / 1000} s`), DEADLINE_MS);
main().then(
  () => {
    clearTimeout(watchdog);
    console.log(`admin_e2e: all ${checks} checks ok in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    process.exit(0);
  },
  (e) => fail(e instanceof Mismatch ? e.message : (e && e.stack) || String(e)),
);
