/** What the node answers, as the SDK hands it out: accounts, tx results, jobs, bonds, reputation. */
import type { Role } from "./msgs.js";

/** Job states after which nothing more happens to a job. */
export const FINAL_JOB_STATES = ["settled", "rejected", "cancelled", "expired", "failed"] as const;

export interface Account {
  address: string;
  accountNumber: bigint;
  sequence: bigint;
  pubKey: string | null;
}

export interface TxEvent {
  type: string;
  attributes: { key: string; value: string; index?: boolean }[];
}

export interface TxResult {
  hash: string;
  /** 0 until the tx is in a block. */
  height: number;
  code: number;
  codespace: string;
  log: string;
  gasWanted: bigint;
  gasUsed: bigint;
  events: TxEvent[];
}

/** A job as `/custom/jobs/job` answers (modules/jobs/queries.py); other fields pass through. */
export interface Job {
  id: string;
  poster: string;
  worker: string;
  state: string;
  task_type: string;
  model: string;
  max_price: string;
  price: string;
  input_hash: string;
  output_hash: string;
  artifact_ref: string;
  spec: string;
  last_error: string;
  [field: string]: unknown;
}

export interface Bond {
  address: string;
  role: Role;
  bonded: string;
  min_bond: string;
  jailed_until: string;
  tombstoned: boolean;
  active: boolean;
  unbonding: { id: string; amount: string; completion_height: string }[];
  ed25519_pubkey: string | null;
  [field: string]: unknown;
}

export interface Reputation {
  address: string;
  score_bps: number;
  score: string;
  successes: string;
  total: string;
  penalties_bps: number;
  uptime_bps: number;
  stake_weight_bps: number;
  has_history: boolean;
}

export function int(v: unknown): number {
  return v === undefined || v === null || v === "" ? 0 : Number(v);
}

export function big(v: unknown): bigint {
  return v === undefined || v === null || v === "" ? 0n : BigInt(v as string);
}

export function txResult(hash: string, height: unknown, r: Record<string, unknown>): TxResult {
  return {
    hash: hash.toUpperCase(),
    height: int(height),
    code: int(r.code),
    codespace: String(r.codespace ?? ""),
    log: String(r.log ?? ""),
    gasWanted: big(r.gas_wanted),
    gasUsed: big(r.gas_used),
    events: (r.events as TxEvent[] | undefined) ?? [],
  };
}

/** Values of attribute `key` in events of `type`, in order. */
export function eventAttributes(res: { events: TxEvent[] }, type: string, key: string): string[] {
  return res.events
    .filter((e) => e.type === type)
    .flatMap((e) => e.attributes ?? [])
    .filter((a) => a.key === key)
    .map((a) => String(a.value));
}
