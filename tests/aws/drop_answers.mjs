// drop_answers.mjs - an HTTP proxy in front of an emulator that loses the
// answers of chosen requests: the request is forwarded and done upstream,
// then the client's connection is cut instead of answering, as when a
// network drops a reply. The client retries; what it then sees is what a
// write it cannot know it made looks like.
//
//   node drop_answers.mjs TARGET_URL PATTERN...
//
// Listens on 127.0.0.1 at a free port and prints "http://127.0.0.1:PORT".
// Each PATTERN (a regular expression) drops the answer of the first request
// whose body matches it, once. A PATTERN written "unprocessed:REGEX" does
// not drop: the first BatchWriteItem matching REGEX goes upstream with the
// first half of its items only, and is answered with the others as
// UnprocessedItems (what DynamoDB does when a partition is busy). Every
// request is logged on stderr as "forwarded", "dropped" or "held back N",
// with its X-Amz-Target.
import { createServer, request } from 'node:http';

const [target, ...patterns] = process.argv.slice(2);
if (!target || patterns.length === 0) {
  process.stderr.write('usage: drop_answers.mjs TARGET_URL PATTERN...\n');
  process.exit(2);
}
const pending = patterns.map((p) => ({
  hold: p.startsWith('unprocessed:'),
  re: new RegExp(p.replace(/^unprocessed:/, '')),
}));
const up = new URL(target);

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = Buffer.concat(chunks);
    const text = body.toString('utf8');
    const i = pending.findIndex((f) => f.re.test(text));
    const fault = i >= 0 ? pending.splice(i, 1)[0] : null;
    const drop = fault !== null && !fault.hold;
    let held = null;
    if (fault && fault.hold) {
      const call = JSON.parse(text);
      const table = Object.keys(call.RequestItems)[0];
      const items = call.RequestItems[table];
      held = { [table]: items.slice(Math.ceil(items.length / 2)) };
      call.RequestItems[table] = items.slice(0, Math.ceil(items.length / 2));
      body = Buffer.from(JSON.stringify(call));
    }
    const headers = { ...req.headers, 'content-length': String(body.length) };
    const fwd = request({ host: up.hostname, port: up.port, method: req.method, path: req.url,
                          headers }, (ures) => {
      const out = [];
      ures.on('data', (c) => out.push(c));
      ures.on('end', () => {
        const what = drop ? 'dropped' : held ? `held back ${Object.values(held)[0].length}` : 'forwarded';
        process.stderr.write(`${what} ${req.headers['x-amz-target']} ${ures.statusCode}\n`);
        if (drop) {
          req.socket.destroy();
          return;
        }
        let answer = Buffer.concat(out);
        if (held && ures.statusCode === 200) {
          answer = Buffer.from(JSON.stringify({ UnprocessedItems: held }));
          delete ures.headers['x-amz-crc32']; /* the body changed */
          ures.headers['content-length'] = String(answer.length);
        }
        res.writeHead(ures.statusCode, ures.headers);
        res.end(answer);
      });
    });
    fwd.on('error', () => req.socket.destroy());
    fwd.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}\n`);
});
