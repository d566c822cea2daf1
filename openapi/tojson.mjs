// tojson.mjs - docs/openapi.yaml -> the JSON the gateway serves at
// /openapi.json (the build embeds it, openapi/CMakeLists.txt).
//
//   usage: node tojson.mjs IN.yaml OUT.json --node-modules DIR
//
// The YAML is the one source of the document; the JSON is only its other
// form, made at build time by a pinned parser (package-lock.json), so the two
// cannot differ. Strict: a duplicate key, an alias or anchor (some importers
// do not resolve them), a tag or any parser warning fails the build, and so
// does a top level that is not an OpenAPI 3.0 document. The output is
// written to a temporary name and renamed, so a failed run leaves no file.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const args = process.argv.slice(2);
const nm = args.indexOf('--node-modules');
if (args.length !== 4 || nm !== 2) {
  console.error('usage: node tojson.mjs IN.yaml OUT.json --node-modules DIR');
  process.exit(2);
}
const [input, output] = args;
const require = createRequire(path.join(path.resolve(args[3]), 'noop.js'));
const YAML = require('yaml');

function fail(msg) {
  console.error(`tojson: ${input}: ${msg}`);
  process.exit(1);
}

const text = readFileSync(input, 'utf8');
const doc = YAML.parseDocument(text, { uniqueKeys: true, prettyErrors: true, version: '1.2' });
for (const e of [...doc.errors, ...doc.warnings]) fail(e.message);
YAML.visit(doc, {
  Alias() {
    fail('an alias (*name): write the value out, importers may not resolve it');
  },
  Node(_, node) {
    if (node.anchor) fail(`an anchor (&${node.anchor}): write values out instead`);
    if (node.tag && !node.tag.startsWith('tag:yaml.org,2002:')) fail(`a tag ${node.tag}`);
  },
});
const value = doc.toJS({ maxAliasCount: 0 });
if (!value || typeof value !== 'object' || !/^3\.0\.\d+$/.test(value.openapi ?? ''))
  fail('not an OpenAPI 3.0 document (openapi: 3.0.x)');
// Beside the output's folder, not in it: sf_embed takes every file there.
const tmp = path.join(path.dirname(path.resolve(output)), '..', `.${path.basename(output)}.tmp`);
writeFileSync(tmp, JSON.stringify(value, null, 1) + '\n');
renameSync(tmp, output);
