/**
 * Artifact-store tokens: the signed, expiring pass a node's artifact store asks for.
 *
 * The node's store (`/artifacts/{sha256}` on the REST port) takes an upload (PUT)
 * only with a token, and a download (GET/HEAD) of a blob that is not public only
 * with a token of an account allowed to read it (the uploader, the job's poster,
 * its worker, an oracle). The token travels in `Authorization: VCoin-Artifact
 * <token>` or, for a browser link, as `?token=<token>`.
 *
 * `<token>` = b64url(payload) "." b64url(signature), base64url without padding;
 * payload = the UTF-8 JSON, keys sorted, no spaces, of `{"exp": unix seconds,
 * "op": "get"|"put", "pub": base64 (standard, padded) of the typed key, "sha256":
 * 64 lower-case hex, "v": 1}`. The typed key is the chain's: the 33-byte compressed
 * key of a secp256k1 key, 0xEE + those 33 bytes for an eth_secp256k1 key. The
 * signature is 64 bytes r‖s, low-S, RFC 6979, over sha256(payload) (secp256k1) or
 * keccak256(payload) (eth_secp256k1), so a token is deterministic:
 * `sdk/vectors/artifact_tokens.json` holds the exact strings every SDK produces.
 * The node refuses an `exp` in the past or more than an hour ahead.
 */
import { Secp256k1, Sha256 } from "@cosmjs/crypto";
import { keccak_256 } from "@noble/hashes/sha3.js";

import { toBase64, utf8 } from "./bytes.js";
import { InputError } from "./errors.js";
import type { Key } from "./keys.js";

export const ARTIFACT_AUTH_SCHEME = "VCoin-Artifact";
export const ARTIFACT_TOKEN_TTL = 600; // seconds, the default
export const ARTIFACT_TOKEN_MAX_TTL = 3600; // the node refuses an exp further ahead
export const ETH_KEY_TAG = 0xee;

export type ArtifactOp = "get" | "put";

/** The key as the chain types it: 33 bytes, or 0xEE + 33 for an eth_secp256k1 key. */
export function typedKey(key: Key): Uint8Array {
  return key.type === "eth_secp256k1" ? Uint8Array.from([ETH_KEY_TAG, ...key.publicKey]) : Uint8Array.from(key.publicKey);
}

function b64url(b: Uint8Array): string {
  return toBase64(b).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

function checkDigest(sha256: string): string {
  const d = typeof sha256 === "string" ? sha256.toLowerCase() : "";
  if (!/^[0-9a-f]{64}$/.test(d)) {
    throw new InputError(`an artifact is named by its sha256 in 64 hex digits, got ${JSON.stringify(String(sha256).slice(0, 80))}`);
  }
  return d;
}

/** The bytes a token signs (see the module doc). */
export function artifactTokenPayload(key: Key, op: ArtifactOp, sha256: string, exp: number): Uint8Array {
  if (op !== "get" && op !== "put") throw new InputError(`an artifact token's op is "get" or "put", not ${JSON.stringify(op)}`);
  const digest = checkDigest(sha256);
  if (!Number.isSafeInteger(exp) || exp < 0) throw new InputError(`exp is unix seconds, a whole number, not ${exp}`);
  // keys in sorted order, no spaces: what the node's json.dumps(sort_keys=True) writes
  return utf8(JSON.stringify({ exp, op, pub: toBase64(typedKey(key)), sha256: digest, v: 1 }));
}

/** The token of `key` for `op` on blob `sha256`, valid until `exp` (unix seconds). */
export function artifactTokenAt(key: Key, op: ArtifactOp, sha256: string, exp: number): string {
  const payload = artifactTokenPayload(key, op, sha256, exp);
  const digest = key.type === "eth_secp256k1" ? keccak_256(payload) : new Sha256(payload).digest();
  const sig = Secp256k1.createSignature(digest, key.privateKey);
  return `${b64url(payload)}.${b64url(Uint8Array.from([...sig.r(32), ...sig.s(32)]))}`;
}

/** A token valid for `ttlSeconds` (1..3600, default 600) from now (or from `nowMs`). */
export function artifactToken(key: Key, op: ArtifactOp, sha256: string, ttlSeconds = ARTIFACT_TOKEN_TTL, nowMs = Date.now()): string {
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > ARTIFACT_TOKEN_MAX_TTL) {
    throw new InputError(`ttlSeconds is 1..${ARTIFACT_TOKEN_MAX_TTL}, not ${ttlSeconds}`);
  }
  return artifactTokenAt(key, op, sha256, Math.floor(nowMs / 1000) + ttlSeconds);
}

/** The `Authorization` header value that carries `token`. */
export function artifactAuthorization(token: string): string {
  return `${ARTIFACT_AUTH_SCHEME} ${token}`;
}
