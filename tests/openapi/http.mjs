// http.mjs - a small HTTP/1.1 client on raw sockets, for openapi.mjs.
//
// The test must send what ordinary clients refuse to (Content-Length twice,
// Transfer-Encoding: gzip, 101 header fields, a head now and its body later)
// and see every answer byte for byte, so it writes the request itself. Every
// request is on a connection of its own (Connection: close), read until the
// server closes it; the response's body is what Content-Length (or chunked
// framing) says, never inflated here.
import net from 'node:net';

// The request head. headers: [[name, value], ...] in order, repeats kept;
// Host and Connection: close are added unless given, and Content-Length for
// a body unless a Content-Length or Transfer-Encoding is given (or
// noLength).
function head(method, path, headers, body, noLength) {
  const names = new Set(headers.map(([n]) => n.toLowerCase()));
  const all = [...headers];
  if (!names.has('host')) all.unshift(['Host', '127.0.0.1']);
  if (!names.has('connection')) all.push(['Connection', 'close']);
  if (body && !noLength && !names.has('content-length') && !names.has('transfer-encoding'))
    all.push(['Content-Length', String(body.length)]);
  return `${method} ${path} HTTP/1.1\r\n${all.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
}

function dechunk(buf) {
  const parts = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) throw new Error('chunked body: no chunk size line');
    const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (!(size >= 0)) throw new Error('chunked body: bad chunk size');
    if (size === 0) return Buffer.concat(parts);
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

// {status, headers: Map(lower-case name -> [values]), body: Buffer, raw}
export function parseResponse(raw, method) {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete response head in ${raw.length} bytes: ${raw.toString('latin1').slice(0, 200)}`);
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!m) throw new Error(`not an HTTP/1.x status line: ${lines[0]}`);
  const headers = new Map();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, []);
    headers.get(name).push(line.slice(colon + 1).trim());
  }
  const status = Number(m[1]);
  let body = raw.subarray(end + 4);
  if (method === 'HEAD' || status === 304 || status === 204) body = Buffer.alloc(0);
  else if ((headers.get('transfer-encoding') || []).some((v) => /chunked/i.test(v)))
    body = dechunk(body);
  else if (headers.has('content-length')) {
    const n = Number(headers.get('content-length')[0]);
    if (body.length < n) throw new Error(`body of ${body.length} bytes, Content-Length says ${n}`);
    body = body.subarray(0, n);
  }
  return { status, headers, body, raw };
}

// Open a connection and send a request's head, and its body unless
// holdBody. Returns {send(bytes), response: Promise<response>}: the response
// is parsed once the server closes the connection (a server that answers
// early and closes may reset a body still being sent: what came is used).
export function open(port, req) {
  const method = req.method || 'GET';
  const body = req.body == null ? null : Buffer.from(req.body);
  const sock = net.connect(port, '127.0.0.1');
  const chunks = [];
  const response = new Promise((resolve, reject) => {
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', (e) => {
      if (!chunks.length) reject(new Error(`${method} ${req.path}: ${e.message}`));
    });
    sock.on('close', () => {
      if (!chunks.length) return reject(new Error(`${method} ${req.path}: closed without an answer`));
      try {
        resolve(parseResponse(Buffer.concat(chunks), method));
      } catch (e) {
        reject(new Error(`${method} ${req.path}: ${e.message}`));
      }
    });
  });
  response.catch(() => {}); // awaited later; never an unhandled rejection
  sock.write(head(method, req.path, req.headers || [], body, req.noLength));
  if (body && !req.holdBody) sock.write(body);
  return {
    send(bytes) {
      sock.write(bytes);
    },
    response,
  };
}

export function request(port, req) {
  return open(port, req).response;
}

// Is anything listening on port? (false once the server stopped accepting)
export function listening(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
