// kinesis_faults.mjs - a loopback proxy in front of kinesalite that refuses
// some records of PutRecords answers, as Kinesis does when a shard is over
// its limits, to show that shopflow re-sends the refused records only.
//
//   node kinesis_faults.mjs --upstream http://127.0.0.1:PORT --stats FILE [--every N]
//                           [--block FILE]
//
// Prints {"port":P} on its first line. Every other request goes through as
// it is. Of a PutRecords, each record seen for the first time whose ordinal
// (counted over all records) is a multiple of N (3) is refused
// (ErrorCode ProvisionedThroughputExceededException) and not passed on; the
// others are passed on in one PutRecords, and the answer is put together in
// the request's order with FailedRecordCount. After each PutRecords, FILE
// holds {"refused":R,"forwarded":F,"resent_forwarded_twice":D}: D counts
// records (by their data) passed on more than once, which must stay 0.
// While the file --block names exists, every record is refused (a stream
// that cannot keep up at all).
import http from 'node:http';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (i % 2 === 0 ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const upstream = new URL(args.upstream);
const every = Number(args.every || 3);
const seen = new Map(); // data -> times passed on
let ordinal = 0, refused = 0, forwarded = 0, twice = 0;
import { existsSync, writeFileSync } from 'node:fs';

function send(req, body, target) {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers, host: upstream.host, 'content-length': Buffer.byteLength(body) };
    const up = http.request({ host: upstream.hostname, port: upstream.port, method: req.method,
                              path: req.url, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
                                    body: Buffer.concat(chunks) }));
    });
    up.on('error', reject);
    up.end(body);
  });
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    let body = Buffer.concat(chunks);
    const put = req.headers['x-amz-target'] === 'Kinesis_20131202.PutRecords';
    try {
      if (!put) {
        const r = await send(req, body);
        res.writeHead(r.status, r.headers);
        return res.end(r.body);
      }
      const q = JSON.parse(body);
      const keep = [], refuse = new Set();
      const blocked = args.block && existsSync(args.block);
      q.Records.forEach((rec, i) => {
        ordinal++;
        if (blocked || (!seen.has(rec.Data) && ordinal % every === 0)) refuse.add(i);
        else keep.push(rec);
      });
      let answers = [];
      if (keep.length) {
        const r = await send(req, JSON.stringify({ ...q, Records: keep }));
        if (r.status !== 200) {
          res.writeHead(r.status, r.headers);
          return res.end(r.body);
        }
        answers = JSON.parse(r.body).Records;
        for (const rec of keep) {
          const n = (seen.get(rec.Data) || 0) + 1;
          seen.set(rec.Data, n);
          if (n > 1) twice++;
          forwarded++;
        }
      }
      const out = [];
      let failed = 0;
      q.Records.forEach((rec, i) => {
        if (refuse.has(i)) {
          refused++;
          failed++;
          seen.set(rec.Data, seen.get(rec.Data) || 0);
          out.push({ ErrorCode: 'ProvisionedThroughputExceededException',
                     ErrorMessage: 'Rate exceeded for shard (injected by kinesis_faults.mjs)' });
        } else {
          const a = answers.shift();
          if (a.ErrorCode) failed++;
          out.push(a);
        }
      });
      writeFileSync(args.stats, JSON.stringify({ refused, forwarded, resent_forwarded_twice: twice }));
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ FailedRecordCount: failed, Records: out }));
    } catch (e) {
      res.writeHead(500, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ __type: 'InternalFailure', message: String(e) }));
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
