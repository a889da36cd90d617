// Bundle the SDK for the browser: one ES module, no CDN, for the web console the node
// serves at /explorer/console.html (app/explorer/static/console/).
//
//   node scripts/bundle.mjs [OUT]   (default ../../app/explorer/static/console/vcoin-sdk.js)
//
// From src/ (esbuild strips the types; tsc still checks them in `npm run build`); esbuild
// is pinned in package.json's devDependencies. scripts/setup-sdk-js runs this (and
// tests/app/test_console_browser.py, so the page always has a fresh bundle); the bundle
// is not committed.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const out = resolve(process.argv[2] ?? join(root, "../../app/explorer/static/console/vcoin-sdk.js"));
await build({
  entryPoints: [join(here, "browser-entry.mjs")],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  legalComments: "none",
  outfile: out,
  logLevel: "warning",
});
console.log(`[bundle] ${out}`);
