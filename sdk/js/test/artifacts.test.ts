/// <reference types="node" />
// Artifact-store tokens: sdk/vectors/artifact_tokens.json (generated from the
// node's key code) byte for byte for both key types, and the client's upload,
// fetch and job output carrying the token of the key they are given.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { Secp256k1, Secp256k1Signature, Sha256 } from "@cosmjs/crypto";
import { keccak_256 } from "@noble/hashes/sha3.js";

import {
  ARTIFACT_AUTH_SCHEME,
  HttpError,
  InputError,
  Key,
  VcoinClient,
  artifactToken,
  artifactTokenAt,
  artifactTokenPayload,
  fromBase64,
  toBase64,
  toHex,
  typedKey,
  type FetchLike,
} from "../src/index.js";

const path = process.env.VCOIN_SDK_ARTIFACT_VECTORS ?? fileURLToPath(new URL("../../../vectors/artifact_tokens.json", import.meta.url));
const V = existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : null;
const skip = V ? false : `no vectors at ${path} (VCOIN_SDK_ARTIFACT_VECTORS)`;

function keyOf(v: { private_key: string; algo: "secp256k1" | "eth_secp256k1" }): Key {
  return Key.fromPrivateKey(v.private_key, v.algo);
}

function b64urlDecode(text: string): Uint8Array {
  return fromBase64(text.replace(/-/g, "+").replace(/_/g, "/"));
}

/** What the node checks: the signature by `pub` over the payload; the payload. */
async function verify(token: string): Promise<{ exp: number; op: string; pub: string; sha256: string; v: number }> {
  assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, "base64url without padding");
  const [p, s] = token.split(".");
  const payload = b64urlDecode(p!);
  const sig = b64urlDecode(s!);
  const obj = JSON.parse(new TextDecoder().decode(payload));
  const typed = fromBase64(obj.pub);
  const eth = typed.length === 34 && typed[0] === 0xee;
  const digest = eth ? keccak_256(payload) : new Sha256(payload).digest();
  const ok = await Secp256k1.verifySignature(Secp256k1Signature.fromFixedLength(sig), digest, eth ? typed.subarray(1) : typed);
  assert.ok(ok, "the signature verifies against the token's own key");
  return obj;
}

describe("artifact token vectors", { skip }, () => {
  it("covers both key types and both ops", () => {
    assert.equal(V.auth_scheme, ARTIFACT_AUTH_SCHEME);
    assert.deepEqual(new Set(V.artifact_tokens.map((t: any) => t.algo)), new Set(["secp256k1", "eth_secp256k1"]));
    assert.deepEqual(new Set(V.artifact_tokens.map((t: any) => t.op)), new Set(["get", "put"]));
  });
  for (const v of V?.artifact_tokens ?? []) {
    it(`makes ${v.name} byte for byte`, async () => {
      const key = keyOf(v);
      assert.equal(toHex(typedKey(key)), v.typed_key);
      assert.equal(key.bech32, v.address, "the account the node credits the token to");
      assert.equal(new TextDecoder().decode(artifactTokenPayload(key, v.op, v.sha256, v.exp)), v.payload);
      const tok = artifactTokenAt(key, v.op, v.sha256, v.exp);
      assert.equal(tok, v.token);
      assert.equal(toHex(b64urlDecode(tok.split(".")[1]!)), v.signature);
      // the same token from a clock that reads exp - ttl
      assert.equal(artifactToken(key, v.op, v.sha256, 600, (v.exp - 600) * 1000 + 900), tok);
      assert.deepEqual(await verify(tok), JSON.parse(v.payload));
    });
  }
  it("refuses a bad op, digest or ttl", () => {
    const key = keyOf(V.artifact_tokens[0]);
    const d = "ab".repeat(32);
    assert.throws(() => artifactToken(key, "delete" as "get", d), InputError);
    for (const bad of ["ab".repeat(31), "zz".repeat(32), "", `${d}\n`]) assert.throws(() => artifactToken(key, "get", bad), /64 hex digits/);
    for (const ttl of [0, -1, 3601, 1.5]) assert.throws(() => artifactToken(key, "get", d, ttl), /ttlSeconds/);
    // upper-case hex names the same blob
    assert.equal(JSON.parse(new TextDecoder().decode(artifactTokenPayload(key, "get", d.toUpperCase(), 1))).sha256, d);
  });
});

describe("the client's artifact calls", { skip }, () => {
  /** A fake artifact store that records each request's method, path and Authorization. */
  function store(blobs: Map<string, Uint8Array<ArrayBuffer>>, seen: { method: string; path: string; auth: string | null }[]): FetchLike {
    return async (url, init) => {
      const u = new URL(url);
      const auth = new Headers(init?.headers).get("authorization");
      const method = init?.method ?? "GET";
      seen.push({ method, path: u.pathname, auth: auth ?? u.searchParams.get("token") });
      const sha = u.pathname.split("/").pop()!;
      if (method === "PUT") {
        if (!auth) return new Response('{"error":"unauthorized","message":"an upload needs a token"}', { status: 401 });
        blobs.set(sha, new Uint8Array(init!.body as Uint8Array));
        return new Response(JSON.stringify({ sha256: sha }), { status: 201 });
      }
      if (!auth) return new Response('{"error":"unauthorized","message":"this blob is not public"}', { status: 401 });
      const b = blobs.get(sha);
      return b ? new Response(b) : new Response('{"error":"not_found","message":"no such blob"}', { status: 404 });
    };
  }

  for (const v of V?.artifact_tokens.filter((t: any) => t.op === "put") ?? []) {
    it(`uploads and reads back with ${v.algo} tokens`, async () => {
      const key = keyOf(v);
      const blobs = new Map<string, Uint8Array<ArrayBuffer>>();
      const seen: { method: string; path: string; auth: string | null }[] = [];
      const c = new VcoinClient({ rpc: "http://rpc", rest: "http://rest", fetch: store(blobs, seen) });
      const data = new TextEncoder().encode("uploaded bytes");
      const sha = toHex(new Sha256(data).digest());
      assert.equal(await c.putArtifact(key, data), sha);
      assert.deepEqual(await c.fetchArtifact(sha, { key }), data);
      const [put, get] = seen;
      for (const [req, op] of [[put!, "put"], [get!, "get"]] as const) {
        assert.equal(req.path, `/artifacts/${sha}`);
        const [scheme, token] = req.auth!.split(" ");
        assert.equal(scheme, ARTIFACT_AUTH_SCHEME);
        const obj = await verify(token!);
        assert.equal(obj.op, op);
        assert.equal(obj.sha256, sha);
        assert.equal(obj.pub, toBase64(typedKey(key)));
        const left = obj.exp - Date.now() / 1000;
        assert.ok(left > 590 && left <= 600, `exp is 600 s ahead, not ${left}`);
      }
      // a link for a browser carries the token as ?token=
      const link = new URL(c.artifactUrl(sha, key));
      assert.equal((await verify(link.searchParams.get("token")!)).op, "get");
      // without a key: no token, and the node's 401 says what is missing
      await assert.rejects(c.fetchArtifact(sha), (e: Error) => e instanceof HttpError && e.status === 401 && /wants a token/.test(e.message));
    });
  }

  it("signs a job output's fetch with the key it is given", async () => {
    const key = keyOf(V.artifact_tokens.find((t: any) => t.algo === "eth_secp256k1"));
    const out = new TextEncoder().encode('{"completions": ["ok"]}');
    const sha = toHex(new Sha256(out).digest());
    const seen: { method: string; path: string; auth: string | null }[] = [];
    const c = new VcoinClient({ rpc: "http://rpc", rest: "http://rest", fetch: store(new Map([[sha, out]]), seen) });
    const job = { id: "3", state: "settled", output_hash: sha } as any;
    assert.deepEqual(await c.jobOutput(job, key), out);
    assert.equal((await verify(seen[0]!.auth!.split(" ")[1]!)).pub, toBase64(typedKey(key)));
  });
});
