// The browser bundle's entry (scripts/bundle.mjs): the SDK as published, plus the two
// primitives the web console's Ethereum path needs to sign legacy EVM txs in the page
// (keccak-256 and recoverable secp256k1 signatures). Not part of the SDK's API.
export * from "../src/index.ts";
export { Secp256k1 } from "@cosmjs/crypto";
export { keccak_256 } from "@noble/hashes/sha3.js";
