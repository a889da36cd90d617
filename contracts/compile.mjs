#!/usr/bin/env node
// Compile contracts/src with the pinned solc-js (the npm package carries the
// compiler: nothing is downloaded) through its standard-JSON interface, and write
// one artifact per contract to contracts/build/<Name>.json:
//
//   {contractName, sourceName, abi, bytecode, deployedBytecode, compiler: {version, settings}}
//
// with sorted keys inside the ABI, two-space indentation and a trailing newline, so
// that a rebuild is byte-identical. `--check` compiles in memory instead and exits 1
// listing every artifact that differs from, or is missing in, contracts/build, and
// every file there that no contract produces.
//
// Usage: node compile.mjs [--check]   (scripts/build-contracts wraps it)
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const ROOT = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(ROOT, "src");
const BUILD = path.join(ROOT, "build");
const MODULES = path.join(ROOT, "node_modules");
const require = createRequire(import.meta.url);

// The settings every artifact records; evmVersion cancun: the EVM module runs Cancun rules.
const SETTINGS = {
  evmVersion: "cancun",
  optimizer: { enabled: true, runs: 200 },
};

function fail(message) {
  console.error(`[build-contracts] ${message}`);
  process.exit(1);
}

function loadSolc() {
  try {
    return require("solc");
  } catch {
    return fail("solc is not installed in contracts/node_modules: run scripts/setup-contracts");
  }
}

// Every .sol file under src/, as solc source unit names ("src/VCoin.sol"), sorted.
function sourceFiles(dir = SRC) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (entry.name.endsWith(".sol")) out.push(path.relative(ROOT, full).split(path.sep).join("/"));
  }
  return out.sort();
}

// Imports outside src/: packages in contracts/node_modules (@openzeppelin/contracts).
function findImports(unit) {
  if (unit.startsWith("src/")) return { contents: fs.readFileSync(path.join(ROOT, unit), "utf8") };
  const file = path.join(MODULES, unit);
  if (!path.resolve(file).startsWith(MODULES + path.sep) || !fs.existsSync(file)) {
    return { error: `${unit} not found in contracts/node_modules (run scripts/setup-contracts)` };
  }
  return { contents: fs.readFileSync(file, "utf8") };
}

// JSON with object keys sorted at every depth (arrays keep their order).
function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
  }
  return value;
}

function compile() {
  const solc = loadSolc();
  const units = sourceFiles();
  const input = {
    language: "Solidity",
    sources: Object.fromEntries(
      units.map((u) => [u, { content: fs.readFileSync(path.join(ROOT, u), "utf8") }]),
    ),
    settings: {
      ...SETTINGS,
      // src/'s contracts only; the imported OpenZeppelin files are compiled, not written
      outputSelection: Object.fromEntries(
        units.map((u) => [u, { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] }]),
      ),
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const problems = output.errors ?? [];
  for (const p of problems) console.error(p.formattedMessage ?? p.message);
  if (problems.some((p) => p.severity === "error")) fail("solc reported errors (above)");
  if (problems.length) fail("solc reported warnings (above): the contracts build without any");

  const version = solc.semver().replace(/\.Emscripten\.clang$/, "");
  const artifacts = new Map();
  for (const unit of units) {
    for (const [name, contract] of Object.entries(output.contracts?.[unit] ?? {})) {
      if (artifacts.has(name)) fail(`two contracts are named ${name}: names must be unique in src/`);
      const bytecode = contract.evm.bytecode.object;
      const deployed = contract.evm.deployedBytecode.object;
      if (bytecode.includes("__$") || deployed.includes("__$")) {
        fail(`${name} needs linked libraries: make them internal`);
      }
      const artifact = {
        contractName: name,
        sourceName: unit,
        abi: sortKeys(contract.abi),
        bytecode: `0x${bytecode}`,
        deployedBytecode: `0x${deployed}`,
        compiler: { version, settings: sortKeys(SETTINGS) },
      };
      artifacts.set(`${name}.json`, `${JSON.stringify(artifact, null, 2)}\n`);
    }
  }
  return artifacts;
}

function existing() {
  if (!fs.existsSync(BUILD)) return [];
  return fs.readdirSync(BUILD).filter((f) => fs.statSync(path.join(BUILD, f)).isFile()).sort();
}

function main() {
  const check = process.argv.includes("--check");
  const artifacts = compile();
  const names = [...artifacts.keys()].sort();
  if (check) {
    const bad = [];
    for (const name of names) {
      const file = path.join(BUILD, name);
      if (!fs.existsSync(file)) bad.push(`missing: contracts/build/${name}`);
      else if (fs.readFileSync(file, "utf8") !== artifacts.get(name)) {
        bad.push(`differs from a fresh compile: contracts/build/${name}`);
      }
    }
    for (const name of existing()) {
      if (!artifacts.has(name)) bad.push(`no contract produces it: contracts/build/${name}`);
    }
    if (bad.length) {
      for (const line of bad) console.error(`[build-contracts] ${line}`);
      fail(`contracts/build is stale (${bad.length} file(s)): run scripts/build-contracts and commit it`);
    }
    console.log(`[build-contracts] contracts/build matches a fresh compile (${names.length} artifacts)`);
    return;
  }
  fs.mkdirSync(BUILD, { recursive: true });
  for (const name of existing()) {
    if (!artifacts.has(name)) fs.rmSync(path.join(BUILD, name));
  }
  for (const name of names) fs.writeFileSync(path.join(BUILD, name), artifacts.get(name));
  console.log(`[build-contracts] wrote ${names.length} artifacts to contracts/build: ${names.join(", ")}`);
}

main();
