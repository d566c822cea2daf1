// build.mjs - bundles the dashboard (src/) into OUT for embedding:
//
//   OUT/index.html               src/index.html with the bundle's hashed names
//   OUT/assets/app-HASH.js       every module and uPlot, minified (esbuild)
//   OUT/assets/app-HASH.css      src/style.css and uPlot's CSS
//   OUT/assets/favicon-HASH.svg
//
// Names carry a hash of the content so the server can let browsers cache them
// for a year (src/gateway/static.c); index.html is the only file revalidated.
// OUT is emptied first, so no stale file is ever embedded.
//
//   usage: node build.mjs --out DIR [--node-modules DIR]
// --node-modules: where `npm ci` put the packages (the CMake build keeps them
// in its build folder; default: web/node_modules).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  if (i + 1 >= process.argv.length) throw new Error(`${name} needs a value`);
  return path.resolve(process.argv[i + 1]);
}

const out = option('--out');
if (!out) {
  console.error('usage: node build.mjs --out DIR [--node-modules DIR]');
  process.exit(2);
}
const nodeModules = option('--node-modules', path.join(here, 'node_modules'));
const require = createRequire(path.join(nodeModules, 'noop.js'));
const esbuild = require('esbuild');

rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(out, 'assets'), { recursive: true });

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2020',
  outdir: path.join(out, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  nodePaths: [nodeModules],
  metafile: true,
  legalComments: 'eof',
  logLevel: 'warning',
});

// The names esbuild gave the entry's script and its CSS.
let js, css;
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (meta.entryPoint === 'src/main.js') {
    js = '/' + path.relative(out, path.resolve(here, file));
    if (meta.cssBundle) css = '/' + path.relative(out, path.resolve(here, meta.cssBundle));
  }
}
if (!js || !css) throw new Error('esbuild gave no script or no stylesheet for src/main.js');

const icon = readFileSync(path.join(here, 'src/favicon.svg'));
const iconName = `assets/favicon-${createHash('sha256').update(icon).digest('hex').slice(0, 8)}.svg`;
writeFileSync(path.join(out, iconName), icon);

const html = readFileSync(path.join(here, 'src/index.html'), 'utf8')
  .replaceAll('{{js}}', js)
  .replaceAll('{{css}}', css)
  .replaceAll('{{favicon}}', '/' + iconName);
if (html.includes('{{')) throw new Error('src/index.html has a placeholder build.mjs does not fill');
writeFileSync(path.join(out, 'index.html'), html);

const sizes = Object.entries(result.metafile.outputs)
  .map(([f, m]) => `${path.basename(f)} ${m.bytes} B`)
  .join(', ');
console.log(`web: ${path.relative(process.cwd(), out) || out}: index.html, ${sizes}`);
