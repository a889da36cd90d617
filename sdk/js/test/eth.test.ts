/// <reference types="node" />
// eth_secp256k1 keys (coin type 60) and the EIP-1193 path, without a node:
// the shared vectors' eth_txs come out byte for byte from signTx with an
// eth_secp256k1 key (Ethermint's pubkey type URL, r‖s over keccak256 of the
// SignDoc), personal_sign matches the vectors both from the key and through an
// EIP-1193 provider backed by a local key (test/keyprovider.ts), and the
// gateway's ADR-036 sign doc is the one the gateway verifies.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { Secp256k1, Sha256 } from "@cosmjs/crypto";
import { keccak_256 } from "@noble/hashes/sha3.js";

import { Key, adr036SignDoc, eip1193Signer, fromHex, msgGrantPostJob, signTx, toHex } from "../src/index.js";
import { KeyProvider } from "./keyprovider.js";

const path = process.env.VCOIN_SDK_VECTORS ?? fileURLToPath(new URL("../../../vectors/vectors.json", import.meta.url));
const V = existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : null;
const skip = V ? false : `no vectors at ${path} (VCOIN_SDK_VECTORS)`;
const mnemonic = (name: string): string => V.keys.find((k: any) => k.name === name).mnemonic;

describe("eth_secp256k1 vectors", { skip }, () => {
  it("derives each ethereum key and its addresses", async () => {
    for (const k of V.keys) {
      const key = await Key.ethFromMnemonic(k.mnemonic);
      assert.equal(key.type, "eth_secp256k1");
      assert.equal(toHex(key.privateKey), k.ethereum.private_key);
      assert.equal(key.hex, k.ethereum.address_eip55);
      assert.equal(key.bech32, k.ethereum.address);
      assert.equal(key.pubkeyTypeUrl, "/ethermint.crypto.v1.ethsecp256k1.PubKey");
      assert.equal(k.ethereum.keys_only, false);
    }
  });

  for (const vec of V?.eth_txs ?? []) {
    it(`signs ${vec.name} byte for byte`, async () => {
      const key = await Key.ethFromMnemonic(mnemonic(vec.signer));
      const signed = await signTx(key, [{ typeUrl: vec.type_url, value: fromHex(vec.msg_bytes) }], {
        chainId: vec.chain_id,
        accountNumber: BigInt(vec.account_number),
        sequence: BigInt(vec.sequence),
        gasLimit: BigInt(vec.gas_limit),
        feeAmount: vec.fee[0].amount,
        memo: vec.memo,
      });
      assert.equal(toHex(signed.bodyBytes), vec.body_bytes);
      assert.equal(toHex(signed.authInfoBytes), vec.auth_info_bytes);
      assert.equal(toHex(signed.signDocBytes), vec.sign_doc);
      assert.equal(toHex(signed.signature), vec.signature);
      assert.equal(toHex(signed.txBytes), vec.tx_raw);
      assert.equal(signed.hash, vec.tx_hash);
      // over keccak256 of the SignDoc, not sha256
      const sig = Secp256k1.createSignature(keccak_256(fromHex(vec.sign_doc)), key.privateKey);
      assert.equal(toHex(Uint8Array.from([...sig.r(32), ...sig.s(32)])), vec.signature);
      const sha = Secp256k1.createSignature(new Sha256(fromHex(vec.sign_doc)).digest(), key.privateKey);
      assert.notEqual(toHex(Uint8Array.from([...sha.r(32), ...sha.s(32)])), vec.signature);
    });
  }

  it("personal_sign matches the vectors, from the key and through an EIP-1193 provider", async () => {
    for (const v of V.personal_sign) {
      const key = await Key.ethFromMnemonic(mnemonic(v.signer));
      assert.equal(toHex(key.personalSign(v.message)), v.signature);
      const provider = new KeyProvider(key, "http://127.0.0.1:9");
      const signer = eip1193Signer(provider);
      assert.equal((await signer.account()).hex, key.hex);
      assert.equal(await signer.personalSign(v.message), "0x" + v.signature);
      assert.deepEqual(provider.calls, ["eth_requestAccounts", "eth_requestAccounts", "personal_sign"]);
    }
  });

  it("a Cosmos key cannot sign as an eth key and the other way round", async () => {
    const cosmos = await Key.fromMnemonic(mnemonic("abandon"));
    const eth = await Key.ethFromMnemonic(mnemonic("abandon"));
    assert.notEqual(cosmos.bech32, eth.bech32);
    assert.throws(() => eth.cosmjsSigner(), /keccak256/);
  });
});

describe("gateway helpers", () => {
  it("writes ADR-036's sign doc as the gateway does (sorted keys, no spaces)", () => {
    const doc = new TextDecoder().decode(adr036SignDoc("vcoin1x", new TextEncoder().encode("hi")));
    assert.equal(
      doc,
      '{"account_number":"0","chain_id":"","fee":{"amount":[],"gas":"0"},"memo":"",' +
        '"msgs":[{"type":"sign/MsgSignData","value":{"data":"aGk=","signer":"vcoin1x"}}],"sequence":"0"}',
    );
  });

  it("encodes the gateway's authz grant", () => {
    const a = "vcoin19rl4cm2hmr8afy4kldpxz3fka4jguq0as7xdlf";
    const b = "vcoin1avgyh77ycn997ja45q5q8ss8y9mr424jvyfr4a";
    const m = msgGrantPostJob(a, "0xeB104BfbC4c4cA5f4bb5A02803C20721763aAAB2", "1.5VCN");
    assert.equal(m.typeUrl, "/vcoin.authz.v1.MsgGrant");
    const text = new TextDecoder().decode(m.value);
    for (const part of [a, b, "/vcoin.jobs.v1.MsgPostJob", "avcn", "1500000000000000000"]) assert.ok(text.includes(part), part);
  });
});
