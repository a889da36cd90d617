#!/usr/bin/env node
// Generate src/gen/ (TypeScript, @bufbuild/protobuf) from the repository's
// proto/vcoin/*/v1/*.proto, or with --check fail when the committed code
// differs from a fresh generation.
//
// protoc is the one the Python node locks (grpcio-tools, `.venv/bin/python -m
// grpc_tools.protoc`); protoc-gen-es is this package's pinned devDependency.
// cosmos/base/v1beta1/coin.proto (imported by staking) is not copied into the
// tree: as scripts/protogen does, its descriptor is taken from cosmpy's
// generated code, here without its gogoproto/amino options (they change
// nothing on the wire), so the generated Coin needs no further files.
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, "..");
const repo = resolve(pkg, "../..");
const protoRoot = join(repo, "proto");
const out = join(pkg, "src", "gen");
const python = process.env.VCOIN_PYTHON ?? join(repo, ".venv", "bin", "python");
const plugin = join(pkg, "node_modules", ".bin", "protoc-gen-es");

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const DEPS = `
import sys
from cosmpy.protos.cosmos.base.v1beta1 import coin_pb2
from google.protobuf import descriptor_pb2
fdp = descriptor_pb2.FileDescriptorProto()
coin_pb2.DESCRIPTOR.CopyToProto(fdp)
del fdp.dependency[:]
fdp.ClearField("options")
for m in fdp.message_type:
    m.ClearField("options")
    for f in m.field:
        f.ClearField("options")
fds = descriptor_pb2.FileDescriptorSet(file=[fdp])
open(sys.argv[1], "wb").write(fds.SerializeToString())
`;

function generate(dest) {
  const work = mkdtempSync(join(tmpdir(), "vcoin-gen-"));
  try {
    const deps = join(work, "deps.pb");
    execFileSync(python, ["-c", DEPS, deps], { stdio: ["ignore", "inherit", "inherit"] });
    const sources = walk(join(protoRoot, "vcoin"))
      .filter((p) => p.endsWith(".proto"))
      .map((p) => relative(protoRoot, p))
      .sort();
    mkdirSync(dest, { recursive: true });
    execFileSync(
      python,
      [
        "-m",
        "grpc_tools.protoc",
        `--proto_path=${protoRoot}`,
        `--descriptor_set_in=${deps}`,
        `--plugin=protoc-gen-es=${plugin}`,
        `--es_out=${dest}`,
        "--es_opt=target=ts,import_extension=js",
        "cosmos/base/v1beta1/coin.proto",
        ...sources,
      ],
      { stdio: ["ignore", "inherit", "inherit"] },
    );
    return walk(dest).map((p) => relative(dest, p)).sort();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv.includes("--check")) {
  const fresh = mkdtempSync(join(tmpdir(), "vcoin-gen-fresh-"));
  try {
    const made = generate(fresh);
    const committed = walk(out).map((p) => relative(out, p)).sort();
    const stale = made.filter(
      (rel) => !committed.includes(rel) || readFileSync(join(fresh, rel), "utf8") !== readFileSync(join(out, rel), "utf8"),
    );
    const orphans = committed.filter((rel) => !made.includes(rel));
    for (const rel of stale) console.error(`gen: src/gen/${rel} differs from what proto/ generates`);
    for (const rel of orphans) console.error(`gen: src/gen/${rel} has no .proto under proto/`);
    if (stale.length || orphans.length) {
      console.error("gen: run `npm run gen` in sdk/js and commit the result");
      process.exit(1);
    }
    console.log(`gen: src/gen matches proto/ (${made.length} files)`);
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
} else {
  rmSync(out, { recursive: true, force: true });
  for (const rel of generate(out)) console.log(`wrote src/gen/${rel}`);
}
