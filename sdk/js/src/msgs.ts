/**
 * VCoin's messages, built from plain arguments and encoded as the protobuf
 * Any a TxBody carries. Types come from `src/gen/` (generated from
 * proto/vcoin/*\/v1/tx.proto); MsgSend from cosmjs-types. Addresses may be
 * given in either form and are written `vcoin1…`; amounts as "1.5VCN",
 * avcn text or bigint.
 */
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { MsgSend } from "cosmjs-types/cosmos/bank/v1beta1/tx";

import { toVcoinAddress } from "./address.js";
import { coin, parseAmount } from "./amount.js";
import { fromHex, utf8 } from "./bytes.js";
import { InputError } from "./errors.js";
import {
  MsgCancelJobSchema,
  MsgClaimJobSchema,
  MsgPostJobSchema,
  MsgRegisterWorkerSchema,
  MsgSubmitResultSchema,
} from "./gen/vcoin/jobs/v1/tx_pb.js";
import { MsgBondSchema, MsgUnbondSchema } from "./gen/vcoin/staking/v1/tx_pb.js";
import { MsgAttestSchema } from "./gen/vcoin/verification/v1/tx_pb.js";
import { MsgHeartbeatSchema } from "./gen/vcoin/reputation/v1/tx_pb.js";

/** A message as a TxBody's Any: its type URL and protobuf bytes. */
export interface EncodedMsg {
  typeUrl: string;
  value: Uint8Array;
}

export type Amount = string | bigint | number;
export type Role = "worker" | "oracle" | "validator";
export type TaskType = string;
export type Verdict = "pass" | "fail";

/** Encode any generated VCoin message (an escape hatch for messages without a builder). */
export function encodeVcoin<D extends DescMessage>(schema: D, init: MessageInitShape<D>): EncodedMsg {
  return { typeUrl: `/${schema.typeName}`, value: toBinary(schema, create(schema, init)) };
}

function u64(v: number | bigint | string, what: string): bigint {
  let n: bigint;
  try {
    n = BigInt(v);
  } catch {
    throw new InputError(`${what} ${JSON.stringify(String(v))} is not a whole number`);
  }
  if (n < 0n || n >= 1n << 64n) throw new InputError(`${what} ${n} is not in 0..2^64-1`);
  return n;
}

function u32(v: number | undefined, what: string): number {
  if (v === undefined) return 0;
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new InputError(`${what} ${v} is not in 0..2^32-1`);
  return v;
}

function hash32(text: string, what: string): string {
  if (!/^[0-9a-f]{64}$/.test(text)) throw new InputError(`${what} must be a sha256 in 64 lower-case hex digits`);
  return text;
}

/** bank MsgSend of `amount` avcn. */
export function msgSend(from: string, to: string, amount: Amount): EncodedMsg {
  const value = MsgSend.encode(
    MsgSend.fromPartial({ fromAddress: toVcoinAddress(from), toAddress: toVcoinAddress(to), amount: [coin(amount)] }),
  ).finish();
  return { typeUrl: "/cosmos.bank.v1beta1.MsgSend", value };
}

export interface PostJobOptions {
  poster: string;
  taskType: TaskType;
  model: string;
  /** Inline input: text (UTF-8) or bytes. Give this or `inputHash`. */
  input?: string | Uint8Array;
  /** sha256 (hex) of an input artifact in the store. */
  inputHash?: string;
  /** Runtime options, as a JSON object or its text. */
  spec?: Record<string, unknown> | string;
  maxPrice: Amount;
  priority?: number;
  claimBlocks?: number | bigint;
  resultBlocks?: number | bigint;
  minGpuMemoryMib?: number | bigint;
  minGpuCount?: number;
  gpuModel?: string;
}

export function msgPostJob(o: PostJobOptions): EncodedMsg {
  if ((o.input === undefined) === (o.inputHash === undefined)) {
    throw new InputError("give exactly one of input (inline) or inputHash (an artifact)");
  }
  const price = parseAmount(o.maxPrice);
  if (price === 0n) throw new InputError("maxPrice must be positive");
  const spec = o.spec === undefined ? "" : typeof o.spec === "string" ? o.spec : JSON.stringify(o.spec);
  return encodeVcoin(MsgPostJobSchema, {
    poster: toVcoinAddress(o.poster),
    taskType: o.taskType,
    model: o.model,
    inputHash: o.inputHash === undefined ? "" : hash32(o.inputHash, "inputHash"),
    inlineInput: o.input === undefined ? new Uint8Array() : typeof o.input === "string" ? utf8(o.input) : o.input,
    spec,
    maxPrice: price.toString(),
    priority: u32(o.priority, "priority"),
    claimBlocks: u64(o.claimBlocks ?? 0, "claimBlocks"),
    resultBlocks: u64(o.resultBlocks ?? 0, "resultBlocks"),
    minGpuMemoryMib: u64(o.minGpuMemoryMib ?? 0, "minGpuMemoryMib"),
    minGpuCount: u32(o.minGpuCount, "minGpuCount"),
    gpuModel: o.gpuModel ?? "",
  });
}

export function msgCancelJob(poster: string, jobId: number | bigint | string): EncodedMsg {
  const id = u64(jobId, "jobId");
  if (id === 0n) throw new InputError("jobId is required (ids start at 1)");
  return encodeVcoin(MsgCancelJobSchema, { poster: toVcoinAddress(poster), jobId: id });
}

export interface BondOptions {
  /** The oracle's ed25519 attestation key (32 bytes or hex): required on an oracle's first bond. */
  ed25519PubKey?: Uint8Array | string;
  /** A validator's CometBFT consensus key (32 bytes or hex): required on a validator's first bond. */
  consensusPubKey?: Uint8Array | string;
}

function key32(k: Uint8Array | string | undefined, what: string): Uint8Array {
  if (k === undefined) return new Uint8Array();
  const b = typeof k === "string" ? fromHex(k) : k;
  if (b.length !== 32) throw new InputError(`${what} is 32 bytes, got ${b.length}`);
  return b;
}

export function msgBond(address: string, role: Role, amount: Amount, options: BondOptions = {}): EncodedMsg {
  return encodeVcoin(MsgBondSchema, {
    address: toVcoinAddress(address),
    role,
    amount: coin(amount),
    ed25519Pubkey: key32(options.ed25519PubKey, "ed25519PubKey"),
    consensusPubkey: key32(options.consensusPubKey, "consensusPubKey"),
  });
}

export function msgUnbond(address: string, role: Role, amount: Amount): EncodedMsg {
  return encodeVcoin(MsgUnbondSchema, { address: toVcoinAddress(address), role, amount: coin(amount) });
}

export interface RegisterWorkerOptions {
  worker: string;
  gpuModel: string;
  memoryMib: number | bigint;
  gpuCount: number;
  taskTypes: TaskType[];
  models: string[];
  /** The worker's ask per job (what a claim fixes as the price). */
  priceFloor: Amount;
  /** Jobs at once (default 1). */
  maxConcurrent?: number;
}

export function msgRegisterWorker(o: RegisterWorkerOptions): EncodedMsg {
  return encodeVcoin(MsgRegisterWorkerSchema, {
    worker: toVcoinAddress(o.worker),
    gpuModel: o.gpuModel,
    memoryMib: u64(o.memoryMib, "memoryMib"),
    gpuCount: u32(o.gpuCount, "gpuCount"),
    taskTypes: o.taskTypes,
    models: o.models,
    priceFloor: parseAmount(o.priceFloor).toString(),
    maxConcurrent: u32(o.maxConcurrent ?? 1, "maxConcurrent"),
  });
}

export interface AttestOptions {
  oracle: string;
  jobId: number | bigint | string;
  verdict: Verdict;
  similarityBps: number;
  /** sha256 (hex) of the evidence artifact. */
  evidenceHash: string;
  /** The oracle's 64-byte ed25519 signature over `attestSignBytes(...)`. */
  signature: Uint8Array;
}

export function msgAttest(o: AttestOptions): EncodedMsg {
  if (o.verdict !== "pass" && o.verdict !== "fail") throw new InputError(`verdict is "pass" or "fail", not ${JSON.stringify(o.verdict)}`);
  if (o.signature.length !== 64) throw new InputError(`an attestation signature is 64 bytes, got ${o.signature.length}`);
  return encodeVcoin(MsgAttestSchema, {
    oracle: toVcoinAddress(o.oracle),
    jobId: u64(o.jobId, "jobId"),
    verdict: o.verdict,
    similarityBps: u32(o.similarityBps, "similarityBps"),
    evidenceHash: hash32(o.evidenceHash, "evidenceHash"),
    signature: o.signature,
  });
}

/**
 * What an oracle signs (ed25519) when it attests (modules/verification/attestation.py):
 * "vcoin/attest/v1" ‖ u8 len ‖ chain id ‖ u64 job id ‖ u8 verdict (1 pass, 2 fail)
 * ‖ u16 similarity (bps) ‖ evidence sha256.
 */
export function attestSignBytes(
  chainId: string,
  jobId: number | bigint | string,
  verdict: Verdict,
  similarityBps: number,
  evidenceHash: string,
): Uint8Array {
  const cid = utf8(chainId);
  const ev = fromHex(hash32(evidenceHash, "evidenceHash"));
  if (cid.length > 255) throw new InputError("chain id is over 255 bytes");
  if (!Number.isInteger(similarityBps) || similarityBps < 0 || similarityBps > 10_000) {
    throw new InputError("similarityBps is 0..10000");
  }
  const id = u64(jobId, "jobId");
  const out = new Uint8Array(15 + 1 + cid.length + 8 + 1 + 2 + 32);
  let i = 0;
  out.set(utf8("vcoin/attest/v1"), i);
  i += 15;
  out[i++] = cid.length;
  out.set(cid, i);
  i += cid.length;
  new DataView(out.buffer).setBigUint64(i, id);
  i += 8;
  out[i++] = verdict === "pass" ? 1 : 2;
  new DataView(out.buffer).setUint16(i, similarityBps);
  i += 2;
  out.set(ev, i);
  return out;
}

export function msgHeartbeat(address: string): EncodedMsg {
  return encodeVcoin(MsgHeartbeatSchema, { address: toVcoinAddress(address) });
}

/** A worker claims a queued job (what the worker daemon sends). */
export function msgClaimJob(worker: string, jobId: number | bigint | string): EncodedMsg {
  return encodeVcoin(MsgClaimJobSchema, { worker: toVcoinAddress(worker), jobId: u64(jobId, "jobId") });
}

export interface SubmitResultOptions {
  worker: string;
  jobId: number | bigint | string;
  outputHash: string;
  artifactRef?: string;
  computeUnits?: number | bigint;
  receipt?: { imageDigest: string; modelHash: string; inputHash: string; outputHash: string; signature: Uint8Array };
}

/** A worker reports a claimed job's output (what the worker daemon sends). */
export function msgSubmitResult(o: SubmitResultOptions): EncodedMsg {
  return encodeVcoin(MsgSubmitResultSchema, {
    worker: toVcoinAddress(o.worker),
    jobId: u64(o.jobId, "jobId"),
    outputHash: hash32(o.outputHash, "outputHash"),
    artifactRef: o.artifactRef ?? "",
    computeUnits: u64(o.computeUnits ?? 0, "computeUnits"),
    receipt: o.receipt,
  });
}
