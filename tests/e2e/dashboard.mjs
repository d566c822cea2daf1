// dashboard.mjs - the dashboard in Debian's Chromium (headless, through
// playwright-core; never a downloaded browser), against the server that
// dashboard.sh started and loaded. Every expected figure is the BI or history
// API's own answer, fetched here with the same key or token; the page must
// show it, formatted, digit for digit.
//
// Environment (dashboard.sh sets it): SF_BASE, SF_ANALYST, SF_TOKEN,
// SF_FORGED, SF_CUSTOMER, SF_OTHER_INVOICE, SF_MONTH, SF_SHOPFLOW, SF_INGEST,
// SF_LIVE_CSV, SF_LIVE_ROWS, SF_BASE_ROWS, SF_OUT, SF_CHROMIUM,
// SF_NODE_MODULES.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const env = process.env;
const require = createRequire(path.resolve(env.SF_NODE_MODULES, 'noop.js'));
const { chromium } = require('playwright-core');
const base = env.SF_BASE;
const WAIT = 60000; // the longest any step may take (a loaded machine, ASan)

function fail(msg) {
  throw new Error(msg);
}
function equal(got, want, what) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) fail(`${what}:\n  page shows ${g}\n  API says   ${w}`);
}

// The expected text, formatted here on its own (not by the dashboard's code).
function money(s) {
  const [, sign, int, frac] = /^(-?)(\d+)(\.\d+)?$/.exec(s);
  return `${sign}£${int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${frac || ''}`;
}
function num(n) {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

async function api(path, credential) {
  const res = await fetch(base + path, { headers: { Authorization: `Bearer ${credential}` } });
  if (!res.ok) fail(`${path}: HTTP ${res.status}`);
  return res.json();
}

// Rows of the table marked data-k=key, as arrays of cell texts.
async function rows(page, key) {
  const table = page.locator(`table[data-k="${key}"]`);
  await table.waitFor({ timeout: WAIT });
  return table.locator('tbody tr').evaluateAll((trs) =>
    trs.map((tr) => [...tr.children].map((td) => td.innerText.trim())));
}

// Fail unless the rows of table key come to equal want: the three rankings
// render one by one as their answers arrive, so a table may still show the
// previous period's answer for a moment.
async function rowsBecome(page, key, want, what) {
  const deadline = Date.now() + WAIT;
  let got = await rows(page, key);
  while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() < deadline) {
    await page.waitForTimeout(200);
    got = await rows(page, key);
  }
  equal(got, want, what);
}

async function text(page, selector) {
  const el = page.locator(selector);
  await el.waitFor({ timeout: WAIT });
  return (await el.innerText()).trim();
}

// Wait until fn() (run in the page) is truthy. fn must not throw: a throw ends
// the wait at once, and the page may re-render between any two polls (a
// "Loading…" state in a dialog, a table replaced), so every element it reads
// may be absent.
function until(page, fn, arg, what) {
  return page.waitForFunction(fn, arg, { timeout: WAIT, polling: 200 })
    .catch((e) => fail(`${what}: ${e.message.split('\n')[0]}`));
}

async function newPage(browser, width, height) {
  const context = await browser.newContext({ viewport: { width, height }, locale: 'en-GB' });
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') page.problems.push(m.text());
  });
  page.on('pageerror', (e) => page.problems.push(e.message));
  return page;
}

function noProblems(page, what, allowed = []) {
  const left = page.problems.filter((p) => !allowed.some((a) => p.includes(a)));
  if (left.length) fail(`${what}: errors in the page: ${left.join(' | ')}`);
}

// A view's whole page; with a dialog open, what the screen shows.
async function shot(page, name) {
  const dialog = await page.evaluate(() => document.getElementById('dialog').open);
  await page.screenshot({ path: path.join(env.SF_OUT, `${name}.png`), fullPage: !dialog });
}

async function signInWithKey(page) {
  await page.goto(base + '/');
  await page.locator('#credential').fill(env.SF_ANALYST);
  await page.keyboard.press('Enter'); // the form is keyboard-usable
  await until(page, () => document.querySelectorAll('.uplot canvas').length >= 3, null,
    'the analyst view drew no charts');
}

async function analystFigures(page) {
  const month = env.SF_MONTH; // "2011-11"
  const [y, m] = month.split('-').map(Number);
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  await page.locator('input[name="granularity"][value="month"]').check();
  await page.locator('#range-from').fill(`${month}-01`);
  await page.locator('#range-to').fill(`${month}-${last}`);
  const sales = await api(`/v1/bi/sales?granularity=month&from=${month}-01&to=${month}-${last}`, env.SF_ANALYST);
  const revenue = money(sales.totals.revenue);
  await until(page, (want) => {
    const el = document.querySelector('[data-k="total-revenue"]');
    return el && el.textContent === want;
  }, revenue, `the ${month} revenue never showed as ${revenue}`);
  equal(await text(page, '[data-k="total-units"]'), num(sales.totals.units), `${month} units`);
  equal(await text(page, '[data-k="total-lines"]'), num(sales.totals.lines), `${month} lines`);
  equal(await text(page, '[data-k="avg-with-sales"]'), money(sales.average_per_bucket_with_sales.revenue),
    `${month} average per month with sales`);
  // The averages table: each granularity's own answer over the same range.
  const avg = await rows(page, 'averages-table');
  for (const [i, g] of ['hour', 'day', 'month', 'year'].entries()) {
    const a = await api(`/v1/bi/sales?granularity=${g}&from=${month}-01&to=${month}-${last}`, env.SF_ANALYST);
    equal(avg[i].slice(1, 5), [num(a.buckets_with_sales), num(a.calendar_buckets),
      money(a.average_per_bucket_with_sales.revenue), money(a.average_per_calendar_bucket.revenue)],
    `averages per ${g} in ${month}`);
  }
  // The figures table under the chart.
  await page.locator('#sales details summary').click();
  equal((await rows(page, 'sales-table')).map((r) => r.slice(0, 3)),
    sales.buckets.map((b) => [b.period, money(b.revenue), num(b.units)]), `${month} sales table`);
  // Profiles over the month.
  await page.locator('#profiles details summary').click();
  const weekday = await api(`/v1/bi/profile?by=weekday&from=${month}-01&to=${month}-${last}`, env.SF_ANALYST);
  equal((await rows(page, 'weekday-table')).map((r) => r.slice(0, 2)),
    weekday.items.map((i) => [i.name, money(i.revenue)]), `${month} revenue by weekday`);
}

async function analystRankings(page) {
  const month = env.SF_MONTH;
  await page.locator('#rank-kind').selectOption('month');
  await page.locator('#rank-at').selectOption(month);
  const q = `period=month&at=${month}&limit=10`;
  const products = await api(`/v1/bi/top-products?by=units&${q}`, env.SF_ANALYST);
  const want = products.periods[0].items.map((i) =>
    [String(i.rank), `${i.stock_code} ${i.description}`.trim(), num(i.units), money(i.revenue)]);
  await until(page, (n) => document.querySelectorAll('table[data-k="top-products"] tbody tr').length === n &&
    document.querySelector('#top-products h3')?.textContent.includes('Nov'), want.length, 'top products');
  equal((await rows(page, 'top-products')).map((r) => [r[0], r[1].replace(/\s+/g, ' '), r[2], r[3]]),
    want.map((r) => [r[0], r[1].replace(/\s+/g, ' '), r[2], r[3]]), `top products by units, ${month}`);
  const customers = await api(`/v1/bi/top-customers?${q}`, env.SF_ANALYST);
  await rowsBecome(page, 'top-customers', customers.periods[0].items.map((i) =>
    [String(i.rank), String(i.customer_id), i.country, num(i.invoices), money(i.revenue)]),
  `top customers, ${month}`);
  const invoices = await api(`/v1/bi/top-invoices?${q}`, env.SF_ANALYST);
  await rowsBecome(page, 'top-invoices', invoices.periods[0].items.map((i) =>
    [String(i.rank), i.invoice_no, i.customer_id === null ? 'none' : String(i.customer_id), i.date,
      money(i.revenue)]), `top invoices, ${month}`);
  // By revenue.
  await page.locator('input[name="products-by"][value="revenue"]').check();
  const byRevenue = await api(`/v1/bi/top-products?by=revenue&${q}`, env.SF_ANALYST);
  await until(page, () => document.querySelector('#top-products h3')?.textContent.includes('revenue'), null,
    'products by revenue');
  equal((await rows(page, 'top-products')).map((r) => r[3]),
    byRevenue.periods[0].items.map((i) => money(i.revenue)), `top products by revenue, ${month}`);
  return invoices.periods[0].items[0].invoice_no;
}

async function invoiceDialog(page, no, credential) {
  const inv = await api(`/v1/invoices/${no}`, credential);
  await until(page, (n) => document.getElementById('dialog')?.open &&
    document.querySelectorAll('table[data-k="invoice-lines"] tbody tr').length === n, inv.line_count,
  `invoice ${no}'s lines`);
  equal(await text(page, '[data-k="invoice-total"]'), money(inv.total), `invoice ${no}'s total`);
  const lines = await rows(page, 'invoice-lines');
  equal(lines.map((l) => [l[1], l[3], l[5]]),
    inv.lines.map((l) => [l.stock_code, num(l.quantity), money(l.amount)]), `invoice ${no}'s lines`);
}

async function live(page) {
  const before = await text(page, '[data-k="log-records"]');
  equal(before, num(Number(env.SF_BASE_ROWS)), 'records in the log before the replay');
  const replay = spawn(env.SF_SHOPFLOW, ['replay', env.SF_LIVE_CSV, '--url', base, '--key', env.SF_INGEST,
    '--rate', '400', '--batch', '10'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const done = new Promise((resolve) => replay.on('exit', resolve));
  const total = num(Number(env.SF_BASE_ROWS) + Number(env.SF_LIVE_ROWS));
  await until(page, (want) => document.querySelector('[data-k="log-records"]')?.textContent === want, total,
    `the live panel never showed ${total} records in the log`);
  equal(await text(page, '[data-k="accepted"]'), num(Number(env.SF_LIVE_ROWS)), 'accepted during the replay');
  await until(page, () => [...document.querySelectorAll('.sink-table [data-k="lag"]')]
    .every((td) => td.textContent === '0'), null, 'the sinks\' lag never came back to 0');
  if ((await done) !== 0) fail('the replay failed');
}

async function analyst(browser) {
  const page = await newPage(browser, 1366, 900);
  await signInWithKey(page);
  for (const [id, charts] of [['#sales', 1], ['#profiles', 2], ['.live', 1]])
    await until(page, ([sel, n]) => document.querySelectorAll(`${sel} .uplot canvas`).length === n, [id, charts],
      `${id}: not every chart was drawn`);
  equal(await text(page, '#who-name'), 'Analyst', 'who is signed in');
  await page.locator('table[data-k="top-invoices"]').waitFor({ timeout: WAIT });
  await shot(page, 'analyst-overview');
  await analystFigures(page);
  const topInvoice = await analystRankings(page);
  await shot(page, 'analyst');
  await page.locator(`table[data-k="top-invoices"] button:text-is("${topInvoice}")`).click();
  await invoiceDialog(page, topInvoice, env.SF_ANALYST);
  await shot(page, 'analyst-invoice');
  await page.keyboard.press('Escape');
  await live(page);
  await page.locator('.live').screenshot({ path: path.join(env.SF_OUT, 'analyst-live.png') });
  noProblems(page, 'analyst view');
  // A phone's width: the same view in one column.
  const phone = await newPage(browser, 390, 844);
  await signInWithKey(phone);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) fail(`at a phone's width the page is ${overflow}px wider than the screen`);
  await shot(phone, 'analyst-phone');
  noProblems(phone, 'analyst view on a phone');
}

async function customer(browser) {
  const page = await newPage(browser, 1280, 900);
  const id = env.SF_CUSTOMER;
  await page.goto(`${base}/#token=${env.SF_TOKEN}`);
  await page.locator('table[data-k="invoice-list"]').waitFor({ timeout: WAIT });
  if (page.url().includes('token')) fail(`the token stayed in the address bar: ${page.url()}`);
  equal(await text(page, '#who-name'), `Customer ${id}`, 'who is signed in');
  const first = await api(`/v1/customers/${id}/invoices?limit=20`, env.SF_TOKEN);
  equal(await rows(page, 'invoice-list'), first.invoices.map((i) =>
    [i.invoice_no, i.date, { sale: 'Sale', cancellation: 'Cancellation', adjustment: 'Adjustment' }[i.kind],
      num(i.line_count), num(i.units), money(i.total)]), `customer ${id}'s first page`);
  if (!first.next_cursor) fail(`customer ${id} has one page only: the fixture should give two`);
  await shot(page, 'customer');
  // The shown page stays until the next has arrived: the list never flashes
  // empty (an observer sees the page after every change of it).
  await page.evaluate(() => {
    window.sfListGone = false;
    new MutationObserver(() => {
      if (!document.querySelector('table[data-k="invoice-list"]')) window.sfListGone = true;
    }).observe(document.body, { childList: true, subtree: true });
  });
  await page.getByRole('button', { name: 'Older →' }).click();
  const second = await api(`/v1/customers/${id}/invoices?limit=20&cursor=${first.next_cursor}`, env.SF_TOKEN);
  await until(page, (no) => document.querySelector('table[data-k="invoice-list"] tbody tr td')?.textContent === no,
    second.invoices[0].invoice_no, 'the second page');
  equal((await rows(page, 'invoice-list')).map((r) => r[0]), second.invoices.map((i) => i.invoice_no),
    `customer ${id}'s second page`);
  if (await page.evaluate(() => window.sfListGone)) fail('the invoice list emptied while the next page loaded');
  const no = second.invoices[0].invoice_no;
  await page.locator(`table[data-k="invoice-list"] button:text-is("${no}")`).click();
  await invoiceDialog(page, no, env.SF_TOKEN);
  await shot(page, 'customer-invoice');
  await page.keyboard.press('Escape');
  // Another customer's invoice: the server's 403, shown as an error state.
  await page.locator('#open-invoice').fill(env.SF_OTHER_INVOICE);
  await page.locator('#open-invoice').press('Enter');
  await until(page, () => document.querySelector('#dialog-body .state.error'), null,
    'another customer\'s invoice showed no error');
  const error = await text(page, '#dialog-body .state.error');
  if (!error.includes('403') || !error.includes(env.SF_OTHER_INVOICE)) fail(`the error says: ${error}`);
  if (await page.locator('table[data-k="invoice-lines"]').count()) fail('another customer\'s lines were shown');
  await shot(page, 'customer-forbidden');
  await page.keyboard.press('Escape');
  // Signed in for the tab's life: a reload keeps the view, without a token in the URL.
  await page.reload();
  await page.locator('table[data-k="invoice-list"]').waitFor({ timeout: WAIT });
  // The browser logs the 403 the page asked for; nothing else may fail.
  noProblems(page, 'customer view', ['403']);
}

async function badToken(browser) {
  const page = await newPage(browser, 1280, 800);
  await page.goto(`${base}/#token=${env.SF_FORGED}`);
  const error = await text(page, '#signin-error:not(:empty)');
  if (!/refused this token/.test(error)) fail(`a forged token's sign-in error says: ${error}`);
  if (page.url().includes('token')) fail('the forged token stayed in the address bar');
  if (await page.locator('#who').isVisible()) fail('signed out, yet the page offers to sign out');
  await page.locator('#credential').fill('sfk_not_a_key');
  await page.locator('#credential').press('Enter');
  await until(page, () => /does not know this key/.test(document.getElementById('signin-error')?.textContent), null,
    'an unknown key\'s sign-in error');
  await shot(page, 'sign-in-error');
  noProblems(page, 'sign-in', ['401']);
}

const started = Date.now();
const browser = await chromium.launch({
  executablePath: env.SF_CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  await analyst(browser);
  await customer(browser);
  await badToken(browser);
} finally {
  await browser.close();
}
console.log(`dashboard.mjs: ok in ${((Date.now() - started) / 1000).toFixed(1)} s`);
