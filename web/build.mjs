// Builds the reference chat page into api/webui/dist (embedded by the Go
// binary), or into --out DIR. The output depends only on the sources and
// the locked packages: no timestamps, no absolute paths, so a rebuild is
// byte-for-byte the same (api/webui_dist_test.go checks the committed copy).
//
//   npm ci && node build.mjs [--out DIR]
import { build } from 'esbuild';
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const i = process.argv.indexOf('--out');
const out = resolve(i > 0 ? process.argv[i + 1] : join(here, '..', 'api', 'webui', 'dist'));

// Start from an empty output directory (only the files this script makes).
await mkdir(out, { recursive: true });
for (const e of await readdir(out, { withFileTypes: true })) {
  if (e.name === 'index.html' || e.name === 'assets') await rm(join(out, e.name), { recursive: true, force: true });
}
await mkdir(join(out, 'assets'), { recursive: true });

const common = {
  absWorkingDir: here,
  bundle: true,
  minify: true,
  legalComments: 'eof',
  charset: 'utf8',
  logLevel: 'warning',
};
await build({
  ...common,
  entryPoints: ['src/main.js'],
  outfile: join(out, 'assets', 'app.js'),
  format: 'iife',
  platform: 'browser',
  target: ['es2020'],
  define: { 'process.env.NODE_ENV': '"production"' },
});
await build({
  ...common,
  entryPoints: ['src/app.css'],
  outfile: join(out, 'assets', 'app.css'),
});
await copyFile(join(here, 'src', 'index.html'), join(out, 'index.html'));
console.log('built ' + out);
