// openapi.mjs - every route of docs/openapi.yaml against a real server, each
// real answer checked against the document (ctest: integration.openapi).
//
//   usage: node openapi.mjs SHOPFLOW NODE_MODULES OPENAPI_JSON FIXTURE_CSV
//
// OPENAPI_JSON is the document as the build made it from docs/openapi.yaml
// (the bytes the binary serves at /openapi.json, which is checked too). It is
// first validated as an OpenAPI 3.0 document (swagger-parser: the official
// schema, every $ref). Then `shopflow serve` runs on loopback on a small
// fixture (tests/openapi/fixture.csv: 13 invoices of the bundled data, sales,
// cancellations, adjustments, invoices without a customer), its sinks caught
// up, and every operation is called with success and error cases: each
// status its answers list where one can be caused, the request doors of every
// route (414, 431, 400 bad_framing, 501), each key role and a customer token
// against x-shopflow-roles and the security it lists, HEAD, 405 on every
// path, and paths the document does not list. A second server on an empty
// folder with a slow disk (--commit-delay) gives 429 and, stopped while
// requests wait, 503. Every answer goes through check.mjs; the test fails on
// an answer the document does not describe (status, Content-Type, body,
// headers), and on a status the document lists that no request reached,
// unless it is excused below with its reason. A failure names the request.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { runCases } from './cases.mjs';
import { Checker } from './check.mjs';
import { open, request } from './http.mjs';

const [shopflow, nodeModules, docPath, fixture] = process.argv.slice(2);
if (!fixture) {
  console.error('usage: node openapi.mjs SHOPFLOW NODE_MODULES OPENAPI_JSON FIXTURE_CSV');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(nodeModules), 'noop.js'));
const SwaggerParser = require('@apidevtools/swagger-parser');
const Ajv = require('ajv').default;
const addFormats = require('ajv-formats').default;

const FIXTURE_ROWS = readFileSync(fixture, 'utf8').trim().split('\n').length - 1;
const failures = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the document --------------------------------------------------------

const docText = readFileSync(docPath);
const doc = JSON.parse(docText);
await SwaggerParser.validate(structuredClone(doc)); // throws, naming the fault
const checker = new Checker(await SwaggerParser.dereference(structuredClone(doc)), Ajv, addFormats);
const ops = checker.listed().reduce((m, o) => m.set(o.key.split(' ')[0], o), new Map());

// ---- servers ---------------------------------------------------------------

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sf-openapi-'));
const servers = [];

function shop(...args) {
  return execFileSync(shopflow, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
const lastLine = (s) => s.trim().split('\n').pop();
function keys(data) {
  const k = {};
  for (const role of ['ingest', 'analyst', 'admin'])
    k[role] = lastLine(shop('keys', 'create', '--data', data, '--role', role));
  return k;
}

async function startServer(name, data, args) {
  const log = path.join(tmp, `${name}.log`);
  const child = spawn(shopflow, ['serve', '--data', data, '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'ignore', openSync(log, 'w')],
  });
  const exited = new Promise((r) => child.on('exit', (code, sig) => r(code ?? sig)));
  const s = { name, child, log, exited, running: true };
  exited.then(() => (s.running = false));
  servers.push(s);
  for (let i = 0; i < 600; i++) {
    const m = /event=server_started .*port=(\d+)/.exec(readFileSync(log, 'utf8'));
    if (m) return Object.assign(s, { port: Number(m[1]) });
    if (!s.running) throw new Error(`${name} did not start: ${readFileSync(log, 'utf8')}`);
    await sleep(50);
  }
  throw new Error(`${name} did not start in 30 s`);
}

// Until the server's log has a line matching re.
async function logSays(s, re) {
  for (let i = 0; i < 600; i++) {
    if (new RegExp(re).test(readFileSync(s.log, 'utf8'))) return;
    await sleep(50);
  }
  throw new Error(`${s.name}: no ${re} in its log within 30 s`);
}

async function metrics(s) {
  return (await request(s.port, { path: '/metrics' })).body.toString();
}

// Until pred(metrics text) holds, or fail after `what`.
async function waitMetrics(s, pred, what) {
  for (let i = 0; i < 1200; i++) {
    if (pred(await metrics(s))) return;
    await sleep(50);
  }
  throw new Error(`${s.name}: ${what} did not happen in 60 s`);
}
const gauge = (text, name) => Number((new RegExp(`^${name} (\\d+)$`, 'm').exec(text) || [])[1]);

// ---- requests --------------------------------------------------------------

const bearer = (c) => ['Authorization', `Bearer ${c}`];

// Send req to server s, check the answer against the document, and against
// expect (a status or a list); then(res, json) checks more. Failures are
// collected, not thrown: one run reports them all.
async function call(s, req, expect, then) {
  const what = `${req.method || 'GET'} ${req.path.slice(0, 100)}${req.note ? ` (${req.note})` : ''}`;
  try {
    return await settle(req, await request(s.port, req), expect, then);
  } catch (e) {
    failures.push(`${what}: ${e.message}`);
  }
  return null;
}

async function settle(req, res, expect, then) {
  checker.check(req, res);
  const want = [].concat(expect);
  if (!want.includes(res.status))
    throw new Error(`status ${res.status}, expected ${want.join(' or ')}: ${res.body.toString().slice(0, 300)}`);
  const ctype = (res.headers.get('content-type') || [''])[0];
  const json = /json/.test(ctype) && res.body.length && !res.headers.has('content-encoding')
    ? JSON.parse(res.body.toString())
    : null;
  if (then) then(res, json);
  return res;
}

function must(cond, msg) {
  if (!cond) throw new Error(msg);
}
// A check whose failure is counted, not thrown.
function soft(fn) {
  try {
    fn();
  } catch (e) {
    failures.push(e.message);
  }
}
function same(got, want, what) {
  must(JSON.stringify(got) === JSON.stringify(want), `${what}: got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
}

// A transaction as the shop's client sends it.
function record(over = {}) {
  return {
    InvoiceNo: '590001',
    StockCode: '85123A',
    Description: 'WHITE HANGING HEART T-LIGHT HOLDER',
    Quantity: 6,
    InvoiceDate: '2011-12-10 09:00:00',
    UnitPrice: 2.55,
    CustomerID: 90001, // not the fixture's: its answers stay as they are
    Country: 'United Kingdom',
    ...over,
  };
}
let seq = 0;
const fresh = (over = {}) => record({ event_id: `openapi-${process.pid}-${++seq}`, ...over });
const ingestSchema = checker.doc.paths['/v1/transactions'].post.requestBody.content;

// A valid body for each request media type of the document: a client
// following it must get 200.
function bodyFor(media) {
  if (media === 'application/json') return JSON.stringify([fresh(), fresh({ StockCode: '71053' })]);
  if (/csv/.test(media))
    return 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country,event_id\r\n' +
      `590002,22633,"HAND WARMER, UNION JACK",6,2011-12-10 09:05:00,1.85,90001,United Kingdom,` +
      `openapi-${process.pid}-${++seq}\r\n`;
  return `${JSON.stringify(fresh())}\n${JSON.stringify(fresh({ InvoiceNo: '590003' }))}\n`;
}

function post(key, ctype, body, more = []) {
  const headers = [...(key ? [bearer(key)] : []), ...(ctype ? [['Content-Type', ctype]] : [])];
  headers.push(...more);
  return { method: 'POST', path: '/v1/transactions', headers, body };
}

// Fill a path template with a value that exists in the fixture.
const samplePath = (tpl) =>
  tpl.replace('{invoice_no}', '536365').replace('{customer_id}', '17850').replace('{file}', 'none.js');

// What the cases (cases.mjs) use.
const t = {
  bearer, bodyFor, call, checker, docText, fresh, gauge, ingestSchema, keys, logSays, metrics, must, open,
  ops, post, record, same, samplePath, soft, settle, shop, sleep, startServer, tmp, waitMetrics,
  FIXTURE_ROWS, failures,
};

// ---- run -------------------------------------------------------------------

let code = 0;
try {
  const data = path.join(tmp, 'a');
  shop('import', '--data', data, fixture);
  const excused = await runCases(t, data);
  code = report(excused);
} catch (e) {
  console.error(`openapi: ${e.stack || e.message}`);
  code = 1;
} finally {
  for (const s of servers) if (s.running) s.child.kill('SIGTERM');
  await Promise.all(servers.map((s) => s.exited));
  if (code === 0) rmSync(tmp, { recursive: true, force: true });
  else console.error(`openapi: the servers' logs are in ${tmp}`);
}
process.exit(code);

// The coverage: every (operation, status) listed was answered, or is excused.
function report(excused) {
  for (const { key } of checker.listed()) {
    const seen = checker.seen.get(key) || 0;
    if (!seen && !excused.has(key)) failures.push(`${key}: listed by the document, never answered`);
    if (seen && excused.has(key)) failures.push(`${key}: excused (${excused.get(key)}) but answered: drop the excuse`);
  }
  for (const [key] of checker.seen)
    if (!ops.has(key.split(' ')[0])) failures.push(`${key}: an operation the document does not list`);
  for (const k of ['404', '405'])
    if (!checker.outside.get(k)) failures.push(`no ${k} outside the document's operations was checked`);
  const listed = checker.listed().length;
  const answered = [...checker.seen.values()].reduce((a, b) => a + b, 0);
  console.log(`openapi: ${ops.size} operations, ${listed} statuses listed, ${checker.seen.size} reached ` +
    `(${excused.size} excused), ${answered} answers checked`);
  const why = new Map();
  for (const [k, reason] of excused) why.set(reason, [...(why.get(reason) || []), k]);
  for (const [reason, ks] of why) console.log(`  excused (${reason}): ${ks.join(', ')}`);
  if (!failures.length) return 0;
  for (const f of failures) console.error(`FAIL: ${f}`);
  console.error(`openapi: ${failures.length} failures`);
  return 1;
}
