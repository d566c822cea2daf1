// cases.mjs - the requests of openapi.mjs (which says what is checked): for
// every operation, the cases every route shares (doors, credentials, HEAD,
// 405), then each route's own success and error cases, then a second server
// for the answers of a slow disk and a stopping server.
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const many = (n) => Array.from({ length: n }, (_, i) => [`X-Pad-${i}`, '1']);

// The request every route shares: its doors, before any credential is read.
async function doors(t, s, op) {
  const method = op.method;
  const p = t.samplePath(op.tpl);
  await t.call(s, { method, path: `${p}?pad=${'a'.repeat(9000)}`, note: 'URL over 8 KiB' }, 414);
  await t.call(s, { method, path: p, headers: many(101), note: '101 header fields' }, 431);
  await t.call(s, {
    method, path: p, headers: [['Content-Length', '0'], ['Content-Length', '0']], note: 'Content-Length twice',
  }, 400, (_, j) => t.same(j.error.code, 'bad_framing', 'code'));
  await t.call(s, { method, path: p, headers: [['Transfer-Encoding', 'gzip']], body: 'x', noLength: true }, 501);
}

// A request op answers with 200 given credential c (null: none).
function valid(t, op, c) {
  const auth = c ? [t.bearer(c)] : [];
  if (op.method === 'POST') return t.post(c, 'application/json', JSON.stringify(t.fresh()));
  return { path: t.samplePath(op.tpl), headers: auth };
}

// Who may call op: each key role against x-shopflow-roles, a customer token
// against the security it lists, and the credentials that are no one (401).
async function credentials(t, s, op, who) {
  const roles = op.op['x-shopflow-roles'];
  const security = op.op.security || [];
  if (!security.length) return;
  for (const role of ['ingest', 'analyst', 'admin'])
    await t.call(s, { ...valid(t, op, who.keys[role]), note: `${role} key` }, roles.includes(role) ? 200 : 403);
  const token = security.some((x) => x.customerToken);
  await t.call(s, { ...valid(t, op, who.token), note: 'customer token' }, token ? 200 : 403);
  for (const [c, note] of [[null, 'no credential'], [`sfk_${'0'.repeat(64)}`, 'unknown key'],
    [who.forged, 'forged token'], [who.expired, 'expired token'], ['x.y.z', 'malformed token']])
    await t.call(s, { ...valid(t, op, c), note }, 401);
}

// HEAD answers as GET does, without the body.
async function head(t, s, op, who) {
  if (op.method !== 'GET') return;
  const req = valid(t, op, op.op.security ? who.keys.admin : null);
  const get = await t.call(s, req, [200, 404]);
  if (get) await t.call(s, { ...req, method: 'HEAD', note: 'HEAD' }, get.status);
}

// Every path's 405, with Allow.
async function notAllowed(t, s, op) {
  const method = op.method === 'GET' ? 'DELETE' : 'GET';
  await t.call(s, { method, path: t.samplePath(op.tpl), note: 'a method it does not answer' }, 405);
}

async function ingest(t, s, who) {
  const k = who.keys.ingest;
  const content = t.ingestSchema;
  for (const media of Object.keys(content)) {
    const body = t.bodyFor(media);
    if (media === 'application/json')
      t.checker.validate(content[media].schema, JSON.parse(body), 'the request');
    await t.call(s, { ...t.post(k, media, body), note: media }, 200,
      (_, j) => t.must(j.accepted >= 1, 'nothing accepted'));
  }
  const one = t.record({ event_id: 'openapi-dup' });
  await t.call(s, t.post(k, 'application/json', JSON.stringify([one, t.fresh(), one])), 200,
    (_, j) => t.same(j, { accepted: 2, duplicates: 1 }, 'a batch with a repeated event id'));
  for (const coding of ['gzip', 'x-gzip', 'identity']) {
    const body = JSON.stringify(t.fresh());
    const sent = coding === 'identity' ? body : gzipSync(body);
    await t.call(s, t.post(k, 'application/json', sent, [['Content-Encoding', coding]]), 200);
  }

  const mixed = [t.fresh(), t.fresh({ Quantity: 'eight' }), t.fresh({ UnitPrice: '3.3901', CustomerID: null })];
  await t.call(s, t.post(k, 'application/json', JSON.stringify(mixed)), 400, (_, j) => {
    t.same(j.error.code, 'invalid_records', 'code');
    t.same(j.error.errors.map((e) => [e.index, e.field]), [[1, 'Quantity'], [2, 'UnitPrice']], 'errors');
  });
  const bad = Array.from({ length: 120 }, () => t.fresh({ Country: '' }));
  await t.call(s, t.post(k, 'application/x-ndjson', bad.map((r) => JSON.stringify(r)).join('\n')), 400,
    (_, j) => t.must(j.error.truncated === true && j.error.errors.length === 100, 'not truncated at 100'));
  await t.call(s, t.post(k, 'application/json', `${JSON.stringify(t.fresh())}\n{"InvoiceNo":`), 400,
    (_, j) => t.same([j.error.code, j.error.records_before, j.error.errors.at(-1).fatal],
      ['unreadable_body', 1, true], 'unreadable'));
  await t.call(s, t.post(k, 'text/csv', 'InvoiceNo,StockCode\r\n1,2\r\n'), 400,
    (_, j) => t.same(j.error.code, 'unreadable_body', 'a CSV header without its columns'));
  await t.call(s, t.post(k, 'application/json', ''), 400, (_, j) => t.same(j.error.code, 'empty_body', 'code'));
  await t.call(s, t.post(k, 'application/json', JSON.stringify(t.fresh()), [['Content-Encoding', 'gzip']]), 400,
    (_, j) => t.same(j.error.code, 'invalid_encoding', 'code'));
  await t.call(s, t.post(k, 'application/json', 'x'.repeat(70000)), 413);
  // Announced over --max-body, with Expect: 100-continue: refused before it is sent.
  const big = t.post(k, 'application/json', 'x'.repeat(1 << 20), [['Expect', '100-continue']]);
  const early = t.open(s.port, { ...big, holdBody: true });
  await t.settle(big, await early.response, 413)
    .catch((e) => t.failures.push(`Expect: 100-continue: ${e.message}`));
  await t.call(s, t.post(k, 'text/plain', 'x'), 415, (_, j) => t.same(j.error.code, 'unsupported_media_type', 'code'));
  await t.call(s, t.post(k, 'application/json', '{}', [['Content-Encoding', 'br']]), 415, (res, j) => {
    t.same(j.error.code, 'unsupported_content_encoding', 'code');
    t.must(res.headers.has('accept-encoding'), 'no Accept-Encoding');
  });
}

async function history(t, s, who) {
  const a = [t.bearer(who.keys.analyst)];
  const tok = [t.bearer(who.token)];
  await t.call(s, { path: '/v1/invoices/536365', headers: a }, 200, (_, j) =>
    t.same([j.line_count, j.lines.length, j.total, j.customer_id, j.kind], [7, 7, '139.12', 17850, 'sale'], '536365'));
  await t.call(s, { path: '/v1/invoices/C543611', headers: a }, 200, (_, j) => t.same(j.kind, 'cancellation', 'kind'));
  await t.call(s, { path: '/v1/invoices/A563185', headers: a }, 200, (_, j) =>
    t.same([j.kind, j.customer_id], ['adjustment', null], 'an adjustment'));
  await t.call(s, { path: '/v1/invoices/536414', headers: a }, 200, (_, j) => t.same(j.customer_id, null, 'no customer'));
  await t.call(s, { path: '/v1/invoices/999999', headers: a }, 404);
  await t.call(s, { path: '/v1/invoices/536367', headers: tok, note: "another customer's" }, 403);
  await t.call(s, { path: '/v1/invoices/999999', headers: tok, note: 'none, with a token' }, 403);

  // A customer's pages, one invoice each, newest first, to the last.
  const seen = [];
  let cursor = null;
  for (let i = 0; i < 5; i++) {
    const q = `/v1/customers/17850/invoices?limit=1${cursor ? `&cursor=${cursor}` : ''}`;
    const res = await t.call(s, { path: q, headers: a }, 200, (_, j) => {
      seen.push(...j.invoices.map((x) => x.invoice_no));
      cursor = j.next_cursor;
    });
    if (!res || !cursor) break;
  }
  t.soft(() => t.same(seen, ['C543611', '536366', '536365'], "17850's pages"));
  await t.call(s, { path: '/v1/customers/17850/invoices?from=2011-01-01', headers: a }, 200,
    (_, j) => t.same(j.invoices.map((x) => x.invoice_no), ['C543611'], 'from'));
  await t.call(s, { path: '/v1/customers/17850/invoices?to=2010-12-01%2008:27:00&limit=1000', headers: a }, 200,
    (_, j) => t.same(j.invoices.map((x) => x.invoice_no), ['536365'], 'to, to the second'));
  await t.call(s, { path: '/v1/customers/17850/invoices?from=2012-01-01', headers: a }, 200,
    (_, j) => t.same([j.invoices, j.next_cursor], [[], null], 'an empty page'));
  for (const q of ['limit=0', 'limit=1001', 'limit=x', 'cursor=zz', 'from=2011-13-45', 'to=yesterday'])
    await t.call(s, { path: `/v1/customers/17850/invoices?${q}`, headers: a }, 400,
      (_, j) => t.same(j.error.code, 'bad_request', q));
  await t.call(s, { path: '/v1/customers/99999/invoices', headers: a }, 404);
  await t.call(s, { path: '/v1/customers/abc/invoices', headers: a }, 404);
  await t.call(s, { path: '/v1/customers/13047/invoices', headers: tok, note: "another customer's" }, 403);
  await t.call(s, { path: '/v1/customers/17850/invoices/536367', headers: a }, 404);
  await t.call(s, { path: '/v1/customers/13047/invoices/536367', headers: tok }, 403);
  await t.call(s, { path: '/v1/customers/13047/invoices/536367', headers: a }, 200);
}

async function bi(t, s, who) {
  const a = [t.bearer(who.keys.analyst)];
  const ok = (q, then) => t.call(s, { path: `/v1/bi/${q}`, headers: a }, 200, then);
  const bad = (q) => t.call(s, { path: `/v1/bi/${q}`, headers: a }, 400,
    (_, j) => t.same(j.error.code, 'invalid_parameter', q));
  for (const g of ['hour', 'day', 'month', 'year']) await ok(`sales?granularity=${g}`);
  await ok('sales?granularity=month&from=2010-12&to=2011-02', (_, j) =>
    t.same([j.from, j.to, j.buckets_with_sales, j.calendar_buckets], ['2010-12', '2011-02', 2, 3], 'sales range'));
  await ok('sales?from=2011-11-05T08&to=2011-11-05%2009&granularity=hour', (_, j) =>
    t.same(j.average_per_bucket_with_sales.revenue, null, 'an average over no bucket'));
  await ok('profile');
  await ok('profile?by=weekday', (_, j) => t.must(j.items.every((x) => 'name' in x), 'weekday names'));
  await ok('top-products?by=revenue&at=2010-12&limit=2', (_, j) => t.same(j.periods.length, 1, 'one period'));
  await ok('top-products?period=year&include_non_products=true&limit=1000');
  await ok('top-products?period=day&by=units');
  await ok('top-customers?period=year');
  await ok('top-customers?at=2011-04-07&by=revenue');
  await ok('top-invoices?period=month&include_non_products=false', (_, j) =>
    t.must(j.periods.some((p) => p.items.some((x) => x.customer_id === null)), 'an invoice without a customer'));
  for (const q of ['sales?granularity=week', 'sales?from=2011-11&to=2011-10', 'sales?from=11', 'profile?by=month',
    'top-products?limit=0', 'top-products?by=lines', 'top-products?period=day&at=2011',
    'top-products?include_non_products=yes', 'top-customers?by=units', 'top-invoices?at=2011-11-05%2008',
    'top-invoices?period=hour'])
    await bad(q);
}

async function operations(t, s) {
  await t.call(s, { path: '/healthz' }, 200);
  await t.call(s, { path: '/readyz' }, 200);
  await t.call(s, { path: '/metrics' }, 200, (res) =>
    t.must(/route="\/openapi\.json",code="200"/.test(res.body.toString()), 'the document is not counted in /metrics'));
  let etag = null;
  await t.call(s, { path: '/openapi.json' }, 200, (res) => {
    t.must(res.body.equals(t.docText), '/openapi.json is not the document the build made');
    etag = res.headers.get('etag')[0];
  });
  await t.call(s, { path: '/openapi.json', headers: [['If-None-Match', etag]] }, 304);
  await t.call(s, { path: '/openapi.json', headers: [['Accept-Encoding', 'gzip']] }, 200, (res) =>
    t.same(res.headers.get('content-encoding'), ['gzip'], 'Content-Encoding'));
}

// The dashboard's files, when this binary has them. Returns whether it has.
async function dashboard(t, s) {
  const page = await t.call(s, { path: '/' }, [200, 404]);
  const has = page && page.status === 200;
  await t.call(s, { path: '/index.html' }, has ? 200 : 404);
  await t.call(s, { path: '/assets/nothing-here.js' }, 404);
  if (!has) return false;
  const etag = page.headers.get('etag')[0];
  await t.call(s, { path: '/', headers: [['If-None-Match', etag]] }, 304);
  await t.call(s, { path: '/index.html', headers: [['If-None-Match', etag]] }, 304);
  for (const [, file] of page.body.toString().matchAll(/"\/assets\/([^"]+)"/g)) {
    const res = await t.call(s, { path: `/assets/${file}` }, 200);
    if (!res) continue;
    await t.call(s, { path: `/assets/${file}`, headers: [['If-None-Match', res.headers.get('etag')[0]]] }, 304);
    await t.call(s, { path: `/assets/${file}`, headers: [['Accept-Encoding', 'gzip']] }, 200);
  }
  return true;
}

// Paths the document does not list.
async function outside(t, s, who) {
  const a = [t.bearer(who.keys.analyst)];
  for (const p of ['/nowhere', '/v1/bi/nosuch', '/v1/customers/17850/orders', '/v1', '/assets', '/openapi.yaml'])
    await t.call(s, { path: p, headers: a }, 404);
}

// A slow disk (each commit waits 0.8 s) and a queue of one byte: 429s;
// then the server stopped while two requests wait for their bodies: 503s.
async function slowServer(t, data) {
  const k = t.keys(data);
  const s = await t.startServer('slow', data, ['--commit-delay', '800ms', '--max-queue', '1']);
  const a = [t.bearer(k.analyst)];
  // An empty warehouse and history store.
  await t.call(s, { path: '/v1/bi/sales', headers: a }, 200, (_, j) =>
    t.same([j.from, j.to, j.buckets, j.average_per_calendar_bucket.revenue], [null, null, [], null], 'an empty warehouse'));
  await t.call(s, { path: '/v1/bi/top-products', headers: a }, 200);
  await t.call(s, { path: '/v1/customers/17850/invoices', headers: a }, 404);

  const one = () => t.post(k.ingest, 'application/json', JSON.stringify(t.fresh()));
  const first = t.open(s.port, one());
  await t.waitMetrics(s, (m) => t.gauge(m, 'shopflow_http_requests_in_flight') >= 2, 'a request in flight');
  const rest = await Promise.all([1, 2, 3, 4].map(() => t.call(s, { ...one(), note: 'the disk is behind' }, [200, 429])));
  const firstRes = await first.response;
  t.soft(() => t.checker.check(one(), firstRes));
  if (!rest.some((r) => r && r.status === 429)) t.failures.push('no 429 from a full write queue');

  const same = t.post(k.ingest, 'application/json', JSON.stringify(t.record({ event_id: 'openapi-inflight' })));
  const pair = await Promise.all([t.call(s, same, [200, 429]), t.call(s, same, [200, 429])]);
  const codes = pair.map((r) => r && JSON.parse(r.body.toString()));
  if (!codes.some((j) => j && j.error && j.error.code === 'event_in_flight'))
    t.failures.push(`the same event id twice at once: no event_in_flight (${JSON.stringify(codes)})`);

  // Two requests whose bodies come after the server began to stop.
  const waiting = [
    [t.post(k.ingest, 'application/json', JSON.stringify(t.fresh())), 503],
    [{ path: '/readyz', body: 'xx' }, 503],
  ].map(([req, status]) => ({ req, status, conn: t.open(s.port, { ...req, holdBody: true }) }));
  await t.waitMetrics(s, (m) => t.gauge(m, 'shopflow_http_requests_in_flight') >= 3, 'two requests waiting');
  s.child.kill('SIGTERM');
  // The gateway is stopping just after it logs so (sf_stack_close); it then
  // waits up to 5 s for the requests in flight before closing them.
  await t.logSays(s, 'event=server_stopping');
  await t.sleep(200);
  for (const w of waiting) {
    w.conn.send(Buffer.from(w.req.body));
    await t.settle(w.req, await w.conn.response, w.status).catch((e) =>
      t.failures.push(`${w.req.path} while stopping: ${e.message}`));
  }
  await s.exited;
}

// What cannot be caused here, and why.
function excuses(t, hasDashboard) {
  const ex = new Map();
  for (const { key } of t.checker.listed()) {
    const [op, status] = key.split(' ');
    if (status === '500') ex.set(key, 'out of memory, or a store failing a read: not caused here');
    if (status === '503' && /^(bi|getInvoice|listCustomerInvoices|getCustomerInvoice)/.test(op))
      ex.set(key, '`shopflow serve` always opens the history store and warehouse; a gateway without them answers 503');
    if (op === 'openapi' && status === '404') ex.set(key, 'this binary has its document (SHOPFLOW_OPENAPI=ON)');
    if (/^dashboard/.test(op)) {
      if (hasDashboard && status === '404' && op !== 'dashboardAsset')
        ex.set(key, 'built with the dashboard: the page is always there');
      if (!hasDashboard && ['200', '304'].includes(status))
        ex.set(key, 'built without the dashboard (-DSHOPFLOW_DASHBOARD=OFF)');
    }
  }
  return ex;
}

export async function runCases(t, data) {
  const who = { keys: t.keys(data) };
  who.token = t.shop('token', '--data', data, '--customer', '17850').trim().split('\n').pop();
  who.expired = t.shop('token', '--data', data, '--customer', '17850', '--ttl', '1s').trim().split('\n').pop();
  const made = Date.now();
  who.forged = who.token.slice(0, -2) + (who.token.endsWith('AA') ? 'BB' : 'AA');
  const s = await t.startServer('main', data, ['--max-body', '64K']);
  const rows = t.FIXTURE_ROWS;
  await t.waitMetrics(s, (m) => ['archive', 'history', 'warehouse'].every((sink) =>
    new RegExp(`^shopflow_sink_applied_records_total\\{sink="${sink}"\\} ${rows}$`, 'm').test(m)), 'the sinks catching up');
  await t.sleep(Math.max(0, 2100 - (Date.now() - made))); // the 1 s token has expired

  for (const [, op] of t.ops) {
    op.op = t.checker.doc.paths[op.tpl][op.method.toLowerCase()];
    await doors(t, s, op);
    await credentials(t, s, op, who);
    await head(t, s, op, who);
    await notAllowed(t, s, op);
  }
  await history(t, s, who);
  await bi(t, s, who);
  await operations(t, s);
  const hasDashboard = await dashboard(t, s);
  await outside(t, s, who);
  await ingest(t, s, who);
  await slowServer(t, path.join(t.tmp, 'slow'));
  return excuses(t, hasDashboard);
}
