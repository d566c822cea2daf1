// emulators.mjs - the three AWS emulators of shopflow's tests in one node process.
//
//   node --openssl-legacy-provider emulators.mjs --modules DIR [--data DIR]
//        [--ports s3=P,dynamodb=P,kinesis=P] [--state-ms MS] [--parent PID]
//
// Starts s3rver (S3), dynalite (DynamoDB) and kinesalite (Kinesis) on
// 127.0.0.1, each at a free port unless --ports names one (a restart on the
// ports of a stopped run), and prints one JSON line once all three listen:
//
//   {"s3":"http://127.0.0.1:P1","dynamodb":"http://127.0.0.1:P2",
//    "kinesis":"http://127.0.0.1:P3","pid":N,"data":"DIR"}
//
// --modules  the node_modules folder `npm ci` filled from tests/aws's
//            lockfile (under the build tree, never the source tree).
// --data     where the three keep their data (s3rver's files, dynalite's and
//            kinesalite's LevelDB): a new temporary folder, removed at exit,
//            when not given; a given one is kept, so a restart on it finds
//            the buckets, tables and streams of the run before.
// --state-ms how long a table or stream stays CREATING/UPDATING/DELETING
//            (the emulators' default is 500 ms; 50 by default here, so the
//            callers' "wait until ACTIVE" path still runs, but quickly).
// --parent   exit when this process is gone (a test script killed without
//            running its trap leaves no emulator behind).
//
// A PUT to s3rver is made atomic here, as S3's are (atomicPuts, below).
// SIGTERM or SIGINT closes every connection and server and exits 0.
// s3rver needs node's OpenSSL legacy provider: its ListObjectsV2
// continuation tokens are DES-encrypted, and without the provider the second
// page of a listing fails. This script refuses to start without it rather
// than fail there.
import { createCipheriv, createHash } from 'node:crypto';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

function usage(msg) {
  process.stderr.write(`emulators.mjs: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { ports: { s3: 0, dynamodb: 0, kinesis: 0 }, stateMs: 50 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    if (v === undefined) usage(`${a} needs a value`);
    i++;
    if (a === '--modules') o.modules = resolve(v);
    else if (a === '--data') o.data = resolve(v);
    else if (a === '--state-ms') o.stateMs = Number(v);
    else if (a === '--parent') o.parent = Number(v);
    else if (a === '--ports') {
      for (const kv of v.split(',')) {
        const [k, p] = kv.split('=');
        if (!(k in o.ports) || !/^[0-9]+$/.test(p || '')) usage(`bad --ports entry '${kv}'`);
        o.ports[k] = Number(p);
      }
    } else usage(`unknown argument '${a}'`);
  }
  if (!o.modules) usage('--modules DIR is required (the node_modules npm ci filled)');
  if (!Number.isInteger(o.stateMs) || o.stateMs < 0) usage('--state-ms must be a whole number');
  return o;
}

const opts = parseArgs(process.argv.slice(2));
try {
  createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
} catch {
  usage('DES is unavailable: run node with --openssl-legacy-provider ' +
        "(s3rver's ListObjectsV2 continuation tokens use it)");
}

const require = createRequire(join(opts.modules, 'noop.js'));
const S3rver = require('s3rver');
const dynalite = require('dynalite');
const kinesalite = require('kinesalite');

// s3rver 3.7.1 streams a PUT's body straight into the object's file: a
// request cut short (its client killed mid-upload) leaves a short or empty
// object behind, and a re-put empties the old object before the new bytes
// come. S3 itself never does either: a body shorter than its Content-Length
// is refused (IncompleteBody) and nothing is stored, and an object is
// replaced only by a whole new one. The tests check shopflow against S3's
// behaviour (a crashed sink's half-sent PUT must not become an object), so
// here each PUT's body is read whole first, refused when cut short, and
// written to a temporary file renamed over the object.
function atomicPuts(store, S3Error) {
  const put = store.putObject.bind(store);
  let seq = 0;
  store.putObject = async function putObject(object) {
    if (!(object.content instanceof IncomingMessage)) return put(object); // multipart, copies
    const req = object.content;
    const body = await new Promise((ok, fail) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => ok(Buffer.concat(chunks)));
      req.on('error', fail);
      req.on('close', () => { if (!req.complete) fail(new Error('the request was cut short')); });
    }).catch(() => null);
    const want = Number(req.headers['content-length']);
    if (body === null || (Number.isInteger(want) && body.length !== want)) {
      throw new S3Error('IncompleteBody',
                        'You did not provide the number of bytes specified by the Content-Length HTTP header');
    }
    // A test of the order of puts (test_objects) holds one back: a key
    // with "sf-delay-MS" in it is stored MS milliseconds after its body came.
    const delay = /sf-delay-([0-9]+)/.exec(object.key);
    if (delay) await new Promise((ok) => setTimeout(ok, Number(delay[1])));
    const path = this.getResourcePath(object.bucket, object.key, 'object');
    const tmp = this.getResourcePath(object.bucket, object.key, `sftmp${process.pid}.${seq++}`);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, body);
    await rename(tmp, path);
    const md5 = createHash('md5').update(body).digest('hex');
    await this.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size: body.length, md5 };
  };
}

const ownData = !opts.data;
const data = opts.data || mkdtempSync(join(tmpdir(), 'sf-aws-'));
for (const d of ['s3', 'dynamodb', 'kinesis']) mkdirSync(join(data, d), { recursive: true });

const host = '127.0.0.1';
const sockets = new Set();
function track(server) {
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return server;
}
function listen(server, port) {
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok(server.address().port));
  });
}

const s3 = new S3rver({ address: host, port: opts.ports.s3, directory: join(data, 's3'), silent: true });
atomicPuts(s3.store, require('s3rver/lib/models/error'));
const ms = opts.stateMs;
const ddb = track(dynalite({ path: join(data, 'dynamodb'), createTableMs: ms, deleteTableMs: ms,
                             updateTableMs: ms }));
const kin = track(kinesalite({ path: join(data, 'kinesis'), createStreamMs: ms, deleteStreamMs: ms,
                               updateStreamMs: ms }));

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  // Never hang on a keep-alive connection: close them all, then the servers.
  setTimeout(() => process.exit(code || 1), 5000).unref();
  for (const s of sockets) s.destroy();
  const close = (srv) => new Promise((ok) => {
    try {
      if (srv.closeAllConnections) srv.closeAllConnections();
      srv.close(() => ok());
    } catch {
      ok();
    }
  });
  await Promise.all([s3.httpServer ? close(s3) : null, close(ddb), close(kin)]);
  if (ownData) rmSync(data, { recursive: true, force: true });
  process.exit(code);
}
process.on('SIGTERM', () => stop(0));
process.on('SIGINT', () => stop(0));

try {
  const s3addr = await s3.run();
  track(s3.httpServer);
  const ports = { s3: s3addr.port, dynamodb: await listen(ddb, opts.ports.dynamodb),
                  kinesis: await listen(kin, opts.ports.kinesis) };
  const url = (p) => `http://${host}:${p}`;
  process.stdout.write(JSON.stringify({ s3: url(ports.s3), dynamodb: url(ports.dynamodb),
                                        kinesis: url(ports.kinesis), pid: process.pid, data }) + '\n');
} catch (e) {
  process.stderr.write(`emulators.mjs: cannot start: ${e.message}\n`);
  await stop(1);
}

if (opts.parent) {
  setInterval(() => {
    try {
      process.kill(opts.parent, 0);
    } catch {
      stop(0);
    }
  }, 1000).unref();
}
