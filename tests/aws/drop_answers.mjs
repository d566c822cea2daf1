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
// whose body matches it, once. Every request is logged on stderr as
// "forwarded" or "dropped" with its X-Amz-Target.
import { createServer, request } from 'node:http';

const [target, ...patterns] = process.argv.slice(2);
if (!target || patterns.length === 0) {
  process.stderr.write('usage: drop_answers.mjs TARGET_URL PATTERN...\n');
  process.exit(2);
}
const pending = patterns.map((p) => new RegExp(p));
const up = new URL(target);

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const text = body.toString('utf8');
    const i = pending.findIndex((re) => re.test(text));
    const drop = i >= 0;
    if (drop) pending.splice(i, 1);
    const fwd = request({ host: up.hostname, port: up.port, method: req.method, path: req.url,
                          headers: req.headers }, (ures) => {
      const out = [];
      ures.on('data', (c) => out.push(c));
      ures.on('end', () => {
        process.stderr.write(`${drop ? 'dropped' : 'forwarded'} ${req.headers['x-amz-target']} ${ures.statusCode}\n`);
        if (drop) {
          req.socket.destroy();
          return;
        }
        res.writeHead(ures.statusCode, ures.headers);
        res.end(Buffer.concat(out));
      });
    });
    fwd.on('error', () => req.socket.destroy());
    fwd.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}\n`);
});
