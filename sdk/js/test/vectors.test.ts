/// <reference types="node" />
// sdk/vectors/vectors.json (written by sdk/vectors/generate.py from the node's
// own code): every key, address, amount, message, SignDoc, signature, TxRaw and
// tx hash must come out byte for byte, and every bad input must be refused.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { fromJson, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { Secp256k1 } from "@cosmjs/crypto";
import { DirectSecp256k1HdWallet, makeCosmoshubPath } from "@cosmjs/proto-signing";
import { MsgSend } from "cosmjs-types/cosmos/bank/v1beta1/tx";
import { SignDoc } from "cosmjs-types/cosmos/tx/v1beta1/tx";

import {
  AddressError,
  AmountError,
  Key,
  MnemonicError,
  checkMnemonic,
  fromBase64,
  fromHex,
  gen,
  msgAttest,
  msgBond,
  msgCancelJob,
  msgClaimJob,
  msgHeartbeat,
  msgPostJob,
  msgRegisterWorker,
  msgSend,
  msgSubmitResult,
  msgUnbond,
  parseAddress,
  parseAmount,
  signTx,
  toHex,
  type EncodedMsg,
} from "../src/index.js";

const path = process.env.VCOIN_SDK_VECTORS ?? fileURLToPath(new URL("../../../vectors/vectors.json", import.meta.url));
const V = existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : null;
const skip = V ? false : `no vectors at ${path} (VCOIN_SDK_VECTORS)`;

/** Every generated message schema by type URL. */
function schemas(): Map<string, DescMessage> {
  const out = new Map<string, DescMessage>();
  for (const mod of Object.values(gen)) {
    for (const v of Object.values(mod)) {
      if (v && typeof v === "object" && (v as DescMessage).kind === "message") out.set(`/${(v as DescMessage).typeName}`, v as DescMessage);
    }
  }
  return out;
}

/** The message built with the SDK's builder from the vector's JSON. */
function build(typeUrl: string, m: any): EncodedMsg {
  switch (typeUrl) {
    case "/cosmos.bank.v1beta1.MsgSend":
      assert.equal(m.amount.length, 1);
      return msgSend(m.fromAddress, m.toAddress, `${m.amount[0].amount}${m.amount[0].denom}`);
    case "/vcoin.jobs.v1.MsgPostJob":
      return msgPostJob({
        poster: m.poster,
        taskType: m.taskType,
        model: m.model,
        ...(m.inlineInput ? { input: fromBase64(m.inlineInput) } : { inputHash: m.inputHash }),
        spec: m.spec,
        maxPrice: m.maxPrice,
        priority: m.priority,
        claimBlocks: m.claimBlocks,
        resultBlocks: m.resultBlocks,
        minGpuMemoryMib: m.minGpuMemoryMib,
        minGpuCount: m.minGpuCount,
        gpuModel: m.gpuModel,
      });
    case "/vcoin.jobs.v1.MsgCancelJob":
      return msgCancelJob(m.poster, m.jobId);
    case "/vcoin.staking.v1.MsgBond":
      return msgBond(m.address, m.role, `${m.amount.amount}${m.amount.denom}`, {
        ed25519PubKey: m.ed25519Pubkey ? fromBase64(m.ed25519Pubkey) : undefined,
        consensusPubKey: m.consensusPubkey ? fromBase64(m.consensusPubkey) : undefined,
      });
    case "/vcoin.staking.v1.MsgUnbond":
      return msgUnbond(m.address, m.role, `${m.amount.amount}${m.amount.denom}`);
    case "/vcoin.jobs.v1.MsgRegisterWorker":
      return msgRegisterWorker({
        worker: m.worker,
        gpuModel: m.gpuModel,
        memoryMib: m.memoryMib,
        gpuCount: m.gpuCount,
        taskTypes: m.taskTypes,
        models: m.models,
        priceFloor: m.priceFloor,
        maxConcurrent: m.maxConcurrent,
      });
    case "/vcoin.jobs.v1.MsgClaimJob":
      return msgClaimJob(m.worker, m.jobId);
    case "/vcoin.jobs.v1.MsgSubmitResult":
      return msgSubmitResult({
        worker: m.worker,
        jobId: m.jobId,
        outputHash: m.outputHash,
        artifactRef: m.artifactRef,
        computeUnits: m.computeUnits,
        receipt: m.receipt && { ...m.receipt, signature: fromBase64(m.receipt.signature) },
      });
    case "/vcoin.reputation.v1.MsgHeartbeat":
      return msgHeartbeat(m.address);
    case "/vcoin.verification.v1.MsgAttest":
      return msgAttest({
        oracle: m.oracle,
        jobId: m.jobId,
        verdict: m.verdict,
        similarityBps: m.similarityBps,
        evidenceHash: m.evidenceHash,
        signature: fromBase64(m.signature),
      });
    default:
      throw new Error(`no builder for ${typeUrl}`);
  }
}

describe("shared vectors", { skip }, () => {
  const keyOf = (name: string) => V.keys.find((k: any) => k.name === name);

  it("derives every key and address", async () => {
    for (const k of V.keys) {
      const c = await Key.fromMnemonic(k.mnemonic, { passphrase: k.bip39_passphrase, path: k.cosmos.path });
      assert.equal(toHex(c.privateKey), k.cosmos.private_key, k.name);
      assert.equal(toHex(c.publicKey), k.cosmos.public_key, k.name);
      assert.equal(toHex(c.address), k.cosmos.address_hex, k.name);
      assert.equal(c.bech32, k.cosmos.address, k.name);
      assert.equal(c.hex, k.cosmos.address_eip55, k.name);
      const e = await Key.ethFromMnemonic(k.mnemonic, { passphrase: k.bip39_passphrase, path: k.ethereum.path });
      assert.equal(toHex(e.privateKey), k.ethereum.private_key, k.name);
      assert.equal(toHex(e.publicKey), k.ethereum.public_key, k.name);
      assert.equal(toHex(Secp256k1.uncompressPubkey(e.publicKey)).replace(/^04/, ""), k.ethereum.public_key_uncompressed.replace(/^04/, ""), k.name);
      assert.equal(toHex(e.address), k.ethereum.address_hex, k.name);
      assert.equal(e.hex, k.ethereum.address_eip55, k.name);
      assert.equal(e.bech32, k.ethereum.address, k.name);
      assert.deepEqual(parseAddress(k.ethereum.address_eip55), parseAddress(k.ethereum.address));
    }
  });

  it("reads every amount", () => {
    for (const a of V.amounts) {
      assert.equal(a.coins.length, 1, a.input);
      assert.equal(a.coins[0].denom, V.denom);
      assert.equal(parseAmount(a.input).toString(), a.coins[0].amount, a.input);
    }
  });

  it("refuses every bad input", async () => {
    for (const b of V.bad_inputs) {
      const kind: string = b.kind;
      if (kind.includes("mnemonic")) {
        assert.throws(() => checkMnemonic(b.input), MnemonicError, kind);
        await assert.rejects(Key.fromMnemonic(b.input), MnemonicError, kind);
      } else if (/bech32|eip55|address/.test(kind)) {
        assert.throws(() => parseAddress(b.input), AddressError, kind);
      } else if (/amount|decimal/.test(kind)) {
        assert.throws(() => parseAmount(b.input), AmountError, kind);
      } else {
        assert.fail(`unknown bad-input kind ${kind}: teach this test what it means`);
      }
    }
  });

  it("encodes every message, with its builder and from its JSON", () => {
    const all = schemas();
    for (const t of V.txs) {
      const built = build(t.type_url, t.msg);
      assert.equal(built.typeUrl, t.type_url, t.name);
      assert.equal(toHex(built.value), t.msg_bytes, t.name);
      const generic =
        t.type_url === "/cosmos.bank.v1beta1.MsgSend"
          ? MsgSend.encode(MsgSend.fromJSON(t.msg)).finish()
          : toBinary(all.get(t.type_url)!, fromJson(all.get(t.type_url)!, t.msg));
      assert.equal(toHex(generic), t.msg_bytes, t.name);
    }
  });

  it("signs every tx byte for byte (SignDoc, signature, TxRaw, hash)", async () => {
    for (const t of V.txs) {
      const k = keyOf(t.signer);
      const key = await Key.fromMnemonic(k.mnemonic, { passphrase: k.bip39_passphrase });
      assert.equal(t.fee.length, 1);
      const signed = await signTx(key, [build(t.type_url, t.msg)], {
        chainId: t.chain_id,
        accountNumber: BigInt(t.account_number),
        sequence: BigInt(t.sequence),
        gasLimit: BigInt(t.gas_limit),
        feeAmount: BigInt(t.fee[0].amount),
        memo: t.memo,
      });
      assert.equal(toHex(signed.bodyBytes), t.body_bytes, `${t.name} body`);
      assert.equal(toHex(signed.authInfoBytes), t.auth_info_bytes, `${t.name} auth info`);
      assert.equal(toHex(signed.signDocBytes), t.sign_doc, `${t.name} sign doc`);
      assert.equal(toHex(signed.signature), t.signature, `${t.name} signature`);
      assert.equal(toHex(signed.txBytes), t.tx_raw, `${t.name} tx raw`);
      assert.equal(signed.hash, t.tx_hash, `${t.name} hash`);
    }
  });

  it("signs as CosmJS's own HD wallet does", async () => {
    for (const t of V.txs) {
      const k = keyOf(t.signer);
      const wallet = await DirectSecp256k1HdWallet.fromMnemonic(k.mnemonic, { prefix: "vcoin", hdPaths: [makeCosmoshubPath(0)] });
      const [acc] = await wallet.getAccounts();
      const doc = SignDoc.decode(fromHex(t.sign_doc));
      const r = await wallet.signDirect(acc!.address, doc);
      assert.equal(toHex(fromBase64(r.signature.signature)), t.signature, t.name);
    }
  });
});
