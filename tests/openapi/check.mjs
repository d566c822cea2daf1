// check.mjs - real answers against the OpenAPI document, for openapi.mjs.
//
// For each request and its answer: the path and method are found in the
// document (a path it does not list must be answered as
// components/responses/NotFound, a method a listed path does not answer as
// MethodNotAllowed, with Allow naming the path's methods), then the status
// must be one the operation lists, the Content-Type one of that answer's
// media types exactly (parameters too), the body valid against its schema
// (ajv, with ajv-formats), every required header present and valid, and an
// answer without content must have no body. Anything else fails: an
// undocumented status too. Each (operation, status) seen is counted, so the
// caller can fail on any the document lists that no request reached.
import { gunzipSync } from 'node:zlib';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

export class Checker {
  // doc: the document dereferenced ($ref resolved: swagger-parser);
  // Ajv, addFormats: the packages' exports.
  constructor(doc, Ajv, addFormats) {
    this.doc = doc;
    this.ajv = new Ajv({ strict: true, allErrors: true });
    this.ajv.addKeyword('example'); // OpenAPI's, not JSON Schema's
    addFormats(this.ajv);
    this.compiled = new Map();
    this.seen = new Map(); // "operationId status" -> count
    this.outside = new Map(); // "404 outside" etc.
    this.routes = Object.entries(doc.paths).map(([tpl, item]) => ({
      tpl,
      item,
      re: new RegExp(`^${tpl.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`),
    }));
  }

  // Every (operationId, status) the document lists.
  listed() {
    const out = [];
    for (const { tpl, item } of this.routes)
      for (const m of METHODS)
        if (item[m])
          for (const status of Object.keys(item[m].responses))
            out.push({ key: `${item[m].operationId} ${status}`, tpl, method: m.toUpperCase() });
    return out;
  }

  validator(schema) {
    if (!this.compiled.has(schema)) this.compiled.set(schema, this.ajv.compile(schema));
    return this.compiled.get(schema);
  }

  validate(schema, value, what) {
    const v = this.validator(schema);
    if (!v(value))
      throw new Error(`${what}: ${this.ajv.errorsText(v.errors, { separator: '\n    ' })}`);
  }

  route(path) {
    const p = path.split('?')[0];
    return this.routes.find((r) => r.re.test(p));
  }

  // Check one answer; returns the operation's id (or "outside").
  check(req, res) {
    const method = (req.method || 'GET').toUpperCase();
    const what = `${method} ${req.path.slice(0, 120)} -> ${res.status}`;
    const r = this.route(req.path);
    if (!r) {
      if (res.status !== 404) throw new Error(`${what}: a path the document does not list must be 404`);
      this.answer(this.doc.components.responses.NotFound, req, res, what);
      this.outside.set('404', (this.outside.get('404') || 0) + 1);
      return 'outside';
    }
    const m = method === 'HEAD' && !r.item.head ? 'get' : method.toLowerCase();
    const op = r.item[m];
    if (!op) {
      if (res.status !== 405) throw new Error(`${what}: ${r.tpl} does not list ${method}: must be 405`);
      this.answer(this.doc.components.responses.MethodNotAllowed, req, res, what);
      const allow = res.headers.get('allow')[0].split(/,\s*/).map((s) => s.toLowerCase());
      const listed = METHODS.filter((x) => r.item[x]);
      for (const x of listed)
        if (!allow.includes(x)) throw new Error(`${what}: Allow '${allow}' lacks ${x} (${r.tpl})`);
      for (const x of allow)
        if (x !== 'head' && !listed.includes(x))
          throw new Error(`${what}: Allow names ${x}, which the document does not list for ${r.tpl}`);
      this.outside.set('405', (this.outside.get('405') || 0) + 1);
      return 'outside';
    }
    const answer = op.responses[String(res.status)] || op.responses.default;
    if (!answer)
      throw new Error(`${what}: ${op.operationId} does not list status ${res.status}: ${res.body.toString().slice(0, 300)}`);
    this.answer(answer, req, res, `${what} (${op.operationId})`);
    const key = `${op.operationId} ${res.status}`;
    this.seen.set(key, (this.seen.get(key) || 0) + 1);
    return op.operationId;
  }

  // res against one response object of the document.
  answer(answer, req, res, what) {
    for (const [name, h] of Object.entries(answer.headers || {})) {
      const got = res.headers.get(name.toLowerCase());
      if (!got) {
        if (h.required) throw new Error(`${what}: no ${name} header`);
        continue;
      }
      let v = got[0];
      if (h.schema && h.schema.type === 'integer' && /^-?\d+$/.test(v)) v = Number(v);
      this.validate(h.schema, v, `${what}: header ${name}: '${got[0]}'`);
    }
    const head = (req.method || 'GET').toUpperCase() === 'HEAD';
    if (!answer.content) {
      if (res.body.length) throw new Error(`${what}: a body where the document has none`);
      return;
    }
    const ctype = (res.headers.get('content-type') || [''])[0];
    const norm = (t) => t.toLowerCase().replace(/\s*;\s*/g, '; ');
    const media = Object.keys(answer.content).find((k) => norm(k) === norm(ctype));
    if (!media)
      throw new Error(`${what}: Content-Type '${ctype}' is not one of ${Object.keys(answer.content).join(', ')}`);
    if (head) {
      if (res.body.length) throw new Error(`${what}: HEAD answered with a body`);
      return;
    }
    let body = res.body;
    if ((res.headers.get('content-encoding') || []).includes('gzip')) body = gunzipSync(body);
    const schema = answer.content[media].schema;
    if (!schema) return;
    let value = body.toString('utf8');
    if (/json/.test(media)) {
      try {
        value = JSON.parse(value);
      } catch (e) {
        throw new Error(`${what}: not JSON (${e.message}): ${value.slice(0, 200)}`);
      }
    }
    this.validate(schema, value, `${what}: body`);
  }
}
