// Builds the connector into one directory (default ../../build/web): the connector page and its
// bundle, the login page and its script. Only packages from the lockfile; nothing fetched.
//   node build.mjs [OUT_DIR]

import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] || join(here, '..', '..', 'build', 'web'));
const base = JSON.parse(readFileSync(join(here, 'node_modules/@salesforce/scv-connector-base/package.json'), 'utf8'));
if (base.version !== '3.6.2') {
  // The connector is written against 3.6.2's API (voice methods on VendorConnector).
  throw new Error(`@salesforce/scv-connector-base is ${base.version}, expected 3.6.2: run npm ci`);
}

mkdirSync(out, { recursive: true });
const common = {
  bundle: true,
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15', 'edge100'],
  sourcemap: true,
  legalComments: 'eof',
  logLevel: 'warning',
};
await esbuild.build({ ...common, entryPoints: [join(here, 'src/main.js')], outfile: join(out, 'connector.js') });
await esbuild.build({ ...common, entryPoints: [join(here, 'src/login.js')], outfile: join(out, 'login.js') });
for (const f of ['index.html', 'login.html', 'style.css']) {
  copyFileSync(join(here, 'src', f), join(out, f));
}
console.log(`web: built ${out}`);
