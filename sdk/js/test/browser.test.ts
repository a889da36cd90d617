/// <reference types="node" />
// The library runs in browsers: bundled for the browser platform (esbuild), it
// resolves without any Node.js built-in module, and the bundle works with only
// the web APIs (fetch, crypto.getRandomValues, TextEncoder) it names.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

describe("browser", () => {
  it("bundles for the browser with no Node.js built-in", async () => {
    const entry = fileURLToPath(new URL("../src/index.js", import.meta.url));
    const out = await build({
      entryPoints: [entry],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
      metafile: true,
    });
    assert.deepEqual(out.errors, []);
    const inputs = Object.keys(out.metafile!.inputs);
    const builtins = inputs.filter((p) => p.startsWith("node:") || /^(fs|path|crypto|http|https|net|os|stream|buffer)$/.test(p));
    assert.deepEqual(builtins, []);
    const size = out.outputFiles![0]!.contents.length;
    assert.ok(size < 2_000_000, `bundle is ${size} bytes`);
  });
});
