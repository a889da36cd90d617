/**
 * A client of one VCoin node: its CometBFT-style RPC (`:26657`: JSON-RPC,
 * `abci_query` of the app's `/custom/<module>/<query>` JSON queries, tx
 * lookups, the `/websocket` event stream) and its Cosmos REST API (`:1317`:
 * balances, simulate, the artifact store).
 *
 * Wire shapes follow chain/client.py: tx bytes travel base64, `abci_query`
 * data hex, int64 fields as decimal strings; a chain refusal raises
 * QueryFailed or TxFailed with its codespace and code, a transport failure
 * NodeUnreachableError after a bounded retry.
 */
import { Sha256 } from "@cosmjs/crypto";

import { parseAddress, toBech32 } from "./address.js";
import { parseAmount, type Coin } from "./amount.js";
import { fromBase64, toBase64, toHex, utf8 } from "./bytes.js";
import { ArtifactError, HttpError, InputError, QueryFailed, RpcError, TimeoutError, TxFailed, VcoinError } from "./errors.js";
import { sleep, Transport, type TransportOptions } from "./http.js";
import type { Key } from "./keys.js";
import { artifactAuthorization, artifactToken } from "./artifacts.js";
import {
  attestSignBytes,
  msgAttest,
  msgBond,
  msgCancelJob,
  msgPostJob,
  msgRegisterWorker,
  msgSend,
  msgUnbond,
  type Amount,
  type AttestOptions,
  type BondOptions,
  type EncodedMsg,
  type PostJobOptions,
  type RegisterWorkerOptions,
  type Role,
} from "./msgs.js";
import { signTx, txHash, type SignedTx } from "./tx.js";
import { newBlocks, type WebSocketCtor } from "./blocks.js";
import {
  FINAL_JOB_STATES,
  big,
  eventAttributes,
  int,
  txResult,
  type Account,
  type Bond,
  type Job,
  type Reputation,
  type TxResult,
} from "./views.js";

export const SDK_CODESPACE = "sdk";
export const CODE_TX_IN_MEMPOOL = 19;
export const CODE_WRONG_SEQUENCE = 32;
export const CODE_NOT_FOUND = 38;
export const GAS_ADJUSTMENT = 1.3;

export interface ClientOptions extends TransportOptions {
  /** Node RPC, e.g. http://127.0.0.1:26657 */
  rpc: string;
  /** Cosmos REST and artifacts, e.g. http://127.0.0.1:1317 */
  rest: string;
  /** Checked against the node's when given; read from the node otherwise. */
  chainId?: string;
  /** Simulated gas × this (default 1.3). */
  gasAdjustment?: number;
  /** avcn per gas; the chain's min_gas_price by default. */
  gasPrice?: bigint;
  /** For job waits; globalThis.WebSocket by default; without one, waits poll. */
  WebSocket?: WebSocketCtor | null;
}

export interface TxOptions {
  /** A gas limit, or "auto" (simulate × gasAdjustment; the default). */
  gas?: bigint | number | "auto";
  /** Fee in avcn; gas × gas price by default. */
  fee?: Amount;
  memo?: string;
  /** Wait until the tx is in a block (default true); false returns after CheckTx. */
  wait?: boolean;
  /** How long to wait for the block (default 30 s). */
  timeoutMs?: number;
  /** Raise TxFailed on a refusal (default true). */
  check?: boolean;
}

export class VcoinClient {
  readonly rpcUrl: string;
  readonly restUrl: string;
  readonly transport: Transport;
  readonly gasAdjustment: number;
  private readonly WebSocketImpl: WebSocketCtor | null;
  private chainIdValue?: string;
  private readonly wantChainId?: string;
  private gasPriceValue?: bigint;
  private nextId = 1;
  // account numbers never change; sequences this client used run ahead of the
  // last commit, so back-to-back sync broadcasts from one key do not collide
  private readonly accountNumbers = new Map<string, bigint>();
  private readonly nextSequence = new Map<string, bigint>();

  constructor(o: ClientOptions) {
    this.rpcUrl = o.rpc.replace(/\/+$/, "");
    this.restUrl = o.rest.replace(/\/+$/, "");
    this.transport = new Transport(o);
    this.gasAdjustment = o.gasAdjustment ?? GAS_ADJUSTMENT;
    this.gasPriceValue = o.gasPrice;
    this.wantChainId = o.chainId;
    const g = (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
    this.WebSocketImpl = o.WebSocket === undefined ? (g ?? null) : o.WebSocket;
  }

  // -- JSON-RPC ---------------------------------------------------------------
  /** One JSON-RPC 2.0 call; its `result`, or RpcError. */
  async rpc<T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const body = JSON.stringify({ jsonrpc: "2.0", id: this.nextId++, method, params });
    const r = await this.transport.request(this.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const text = await r.text();
    let reply: { result?: unknown; error?: { code?: number; message?: string; data?: string } };
    try {
      reply = JSON.parse(text);
    } catch {
      throw new RpcError(`${method}: the node answered HTTP ${r.status} without JSON`);
    }
    if (reply.error) throw new RpcError(String(reply.error.message ?? "error"), int(reply.error.code), String(reply.error.data ?? ""));
    if (typeof reply.result !== "object" || reply.result === null) {
      throw new RpcError(`${method}: the node's answer has no result (HTTP ${r.status})`);
    }
    return reply.result as T;
  }

  async status(): Promise<Record<string, any>> {
    return this.rpc("status");
  }

  async chainId(): Promise<string> {
    if (this.chainIdValue === undefined) {
      const id = String((await this.status()).node_info.network);
      if (this.wantChainId !== undefined && id !== this.wantChainId) {
        throw new VcoinError("input", `the node at ${this.rpcUrl} runs chain ${JSON.stringify(id)}, not ${JSON.stringify(this.wantChainId)}`);
      }
      this.chainIdValue = id;
    }
    return this.chainIdValue;
  }

  async latestHeight(): Promise<number> {
    return int((await this.status()).sync_info.latest_block_height);
  }

  /** `abci_query`: the raw response (value decoded from base64). */
  async abciQuery(path: string, data: Uint8Array = new Uint8Array(), height = 0): Promise<{ code: number; codespace: string; log: string; value: Uint8Array; height: number }> {
    const res = await this.rpc<{ response?: Record<string, unknown> }>("abci_query", {
      path,
      data: toHex(data),
      height: String(height),
      prove: false,
    });
    const r = res.response ?? {};
    return {
      code: int(r.code),
      codespace: String(r.codespace ?? ""),
      log: String(r.log ?? ""),
      value: r.value ? fromBase64(String(r.value)) : new Uint8Array(),
      height: int(r.height),
    };
  }

  /** An app query `/custom/<module>/<name>`: JSON in, JSON out. */
  async query<T = any>(module: string, name: string, req: Record<string, unknown> = {}): Promise<T> {
    const r = await this.abciQuery(`/custom/${module}/${name}`, utf8(JSON.stringify(req)));
    if (r.code !== 0) throw new QueryFailed(r.codespace, r.code, r.log);
    return (r.value.length ? JSON.parse(new TextDecoder().decode(r.value)) : null) as T;
  }

  // -- REST -------------------------------------------------------------------
  async restJson<T = any>(path: string, init: RequestInit = {}): Promise<T> {
    const url = this.restUrl + path;
    const r = await this.transport.request(url, init);
    const text = await r.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      throw new HttpError(url, r.status, text, "the answer is not JSON");
    }
    if (!r.ok) throw new HttpError(url, r.status, text, body?.message);
    return body as T;
  }

  // -- queries ----------------------------------------------------------------
  /** Every balance of an address (REST), as avcn coins. */
  async balances(address: string): Promise<Coin[]> {
    const a = toBech32(parseAddress(address));
    const d = await this.restJson<{ balances: Coin[] }>(`/cosmos/bank/v1beta1/balances/${a}`);
    return d.balances;
  }

  /** The avcn balance of an address. */
  async balance(address: string, denom = "avcn"): Promise<bigint> {
    const d = await this.query("bank", "balance", { address: toBech32(parseAddress(address)), denom });
    return big(d.balance.amount);
  }

  /** The account, or null when the chain has never seen the address. */
  async account(address: string): Promise<Account | null> {
    let d: any;
    try {
      d = await this.query("auth", "account", { address: toBech32(parseAddress(address)) });
    } catch (e) {
      if (e instanceof QueryFailed && e.codespace === SDK_CODESPACE && e.code === CODE_NOT_FOUND) return null;
      throw e;
    }
    return {
      address: String(d.address),
      accountNumber: big(d.account_number),
      sequence: big(d.sequence),
      pubKey: d.pub_key ?? null,
    };
  }

  async job(id: number | bigint | string): Promise<Job> {
    return this.query("jobs", "job", { id: String(id) });
  }

  /** Jobs of one `state`, `poster` or `worker`; `after` is the previous page's `next_after`. */
  async jobs(filter: { state?: string; poster?: string; worker?: string; limit?: number; after?: string }): Promise<{ jobs: Job[]; next_after: string | null }> {
    const req: Record<string, unknown> = { ...filter };
    if (filter.poster) req.poster = toBech32(parseAddress(filter.poster));
    if (filter.worker) req.worker = toBech32(parseAddress(filter.worker));
    return this.query("jobs", "jobs", req);
  }

  /** An address's bonds in every role (worker, oracle, validator). */
  async bonds(address: string): Promise<Bond[]> {
    return (await this.query("staking", "bonds", { address: toBech32(parseAddress(address)) })).bonds;
  }

  async bond(address: string, role: Role): Promise<Bond> {
    return this.query("staking", "bond", { address: toBech32(parseAddress(address)), role });
  }

  /** The reputation score and every input of its formula. */
  async reputation(address: string): Promise<Reputation> {
    return this.query("reputation", "score", { address: toBech32(parseAddress(address)) });
  }

  /** A module's params (auth, bank, jobs, staking, reputation, verification, …). */
  async params(module: string): Promise<Record<string, any>> {
    return this.query(module, "params");
  }

  async gasPrice(): Promise<bigint> {
    this.gasPriceValue ??= big((await this.params("auth")).min_gas_price);
    return this.gasPriceValue;
  }

  // -- transactions -------------------------------------------------------------
  /** Gas the tx would use now (REST /cosmos/tx/v1beta1/simulate; the signature is not checked). */
  async simulate(txBytes: Uint8Array): Promise<bigint> {
    try {
      const d = await this.restJson("/cosmos/tx/v1beta1/simulate", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ tx_bytes: toBase64(txBytes) }),
      });
      return big(d.gas_info?.gas_used);
    } catch (e) {
      if (e instanceof HttpError && e.status < 500) {
        let log = e.message;
        try {
          log = JSON.parse(e.body).message ?? log;
        } catch {
          /* keep the HTTP message */
        }
        const m = /\(codespace (\S+), code (\d+)\)/.exec(log);
        throw new QueryFailed(m ? m[1]! : "", m ? Number(m[2]) : 0, `simulation failed: ${log}`);
      }
      throw e;
    }
  }

  private async signerState(key: Key): Promise<{ accountNumber: bigint; sequence: bigint; fresh: boolean }> {
    const addr = key.bech32;
    const num = this.accountNumbers.get(addr);
    const seq = this.nextSequence.get(addr);
    if (num !== undefined && seq !== undefined) return { accountNumber: num, sequence: seq, fresh: false };
    const acc = await this.account(addr);
    if (acc === null) throw new QueryFailed(SDK_CODESPACE, 9, `account ${addr} does not exist on chain; send it some VCN first`);
    this.accountNumbers.set(addr, acc.accountNumber);
    return { accountNumber: acc.accountNumber, sequence: acc.sequence, fresh: true };
  }

  /** Sign `msgs` for the account's current number and sequence. */
  async sign(key: Key, msgs: EncodedMsg[], o: { gas: bigint; fee?: Amount; memo?: string; sequence?: bigint; accountNumber?: bigint }): Promise<SignedTx> {
    const st = o.sequence !== undefined && o.accountNumber !== undefined ? { accountNumber: o.accountNumber, sequence: o.sequence } : await this.signerState(key);
    const fee = o.fee === undefined ? o.gas * (await this.gasPrice()) : parseAmount(o.fee);
    return signTx(key, msgs, {
      chainId: await this.chainId(),
      accountNumber: st.accountNumber,
      sequence: st.sequence,
      gasLimit: o.gas,
      feeAmount: fee,
      memo: o.memo ?? "",
    });
  }

  /** Simulated gas × gasAdjustment, rounded up. */
  async estimateGas(key: Key, msgs: EncodedMsg[], memo = ""): Promise<bigint> {
    const st = await this.signerState(key);
    const tx = await this.sign(key, msgs, { gas: 200_000n, memo, ...st });
    const used = await this.simulate(tx.txBytes);
    return BigInt(Math.ceil(Number(used) * this.gasAdjustment));
  }

  /** broadcast_tx_sync: the CheckTx result (height 0). */
  async broadcastSync(txBytes: Uint8Array): Promise<TxResult> {
    const hash = txHash(txBytes);
    try {
      const r = await this.rpc<Record<string, unknown>>("broadcast_tx_sync", { tx: toBase64(txBytes) });
      return txResult(String(r.hash || hash), 0, r);
    } catch (e) {
      // CometBFT answers a tx its cache holds with an RPC error; the solo node with sdk/19
      if (e instanceof RpcError && e.message.includes("tx already exists in cache")) {
        return txResult(hash, 0, { code: 19, codespace: SDK_CODESPACE, log: `tx ${hash} is already in the mempool or was just committed` });
      }
      throw e;
    }
  }

  /** The tx's result once it is in a block, or null if the node has not indexed it. */
  async getTx(hash: string): Promise<TxResult | null> {
    const raw = hash.replace(/^0x/i, "");
    if (!/^[0-9a-fA-F]{64}$/.test(raw)) throw new InputError(`a tx hash is 64 hex digits, got ${JSON.stringify(hash)}`);
    let r: Record<string, any>;
    try {
      r = await this.rpc("tx", { hash: toBase64(Uint8Array.from(raw.match(/../g)!.map((h) => parseInt(h, 16)))), prove: false });
    } catch (e) {
      if (e instanceof RpcError && /not found/i.test(e.message)) return null;
      throw e;
    }
    return txResult(String(r.hash || raw), r.height, r.tx_result ?? {});
  }

  /** Wait until the tx is in a block and return its result (which may be a failure). */
  async waitForTx(hash: string, timeoutMs = 30_000, pollMs = 250): Promise<TxResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.getTx(hash);
      if (r !== null) return r;
      if (Date.now() >= deadline) throw new TimeoutError(`tx ${hash} was not in a block after ${timeoutMs} ms`);
      await sleep(pollMs);
    }
  }

  /**
   * Sign (fee by simulation unless `gas` is given), broadcast sync and, unless
   * `wait: false`, wait for the block. A refusal raises TxFailed unless
   * `check: false`.
   */
  async signAndBroadcast(key: Key, msgs: EncodedMsg[], o: TxOptions = {}): Promise<TxResult> {
    const gas = o.gas === undefined || o.gas === "auto" ? await this.estimateGas(key, msgs, o.memo) : BigInt(o.gas);
    const addr = key.bech32;
    let res: TxResult | undefined;
    let seq = 0n;
    for (let attempt = 0; attempt < 2; attempt++) {
      const st = await this.signerState(key);
      seq = st.sequence;
      const tx = await this.sign(key, msgs, { gas, fee: o.fee, memo: o.memo, sequence: st.sequence, accountNumber: st.accountNumber });
      res = await this.broadcastSync(tx.txBytes);
      const stale = res.codespace === SDK_CODESPACE && res.code === CODE_WRONG_SEQUENCE;
      if (stale && !st.fresh && attempt === 0) {
        this.nextSequence.delete(addr); // our count ran ahead of (or behind) the chain's
        continue;
      }
      break;
    }
    let checked = res!;
    if (checked.codespace === SDK_CODESPACE && checked.code === CODE_TX_IN_MEMPOOL) {
      // our own bytes, already taken: a retried broadcast whose first answer was lost
      checked = { ...checked, code: 0, codespace: "", log: checked.log };
    }
    if (checked.code === 0) this.nextSequence.set(addr, seq + 1n);
    else this.nextSequence.delete(addr);
    if (checked.code !== 0) {
      if (o.check ?? true) throw new TxFailed(checked.hash, 0, "check", checked.codespace, checked.code, checked.log);
      return checked;
    }
    if (o.wait === false) return checked;
    const done = await this.waitForTx(checked.hash, o.timeoutMs ?? 30_000);
    if (done.code !== 0 && (o.check ?? true)) {
      throw new TxFailed(done.hash, done.height, "deliver", done.codespace, done.code, done.log);
    }
    return done;
  }

  /** Forget cached sequences (after txs were sent from the same key elsewhere). */
  resetSequence(key?: Key): void {
    if (key) this.nextSequence.delete(key.bech32);
    else this.nextSequence.clear();
  }

  // -- the messages -------------------------------------------------------------
  send(key: Key, to: string, amount: Amount, o?: TxOptions): Promise<TxResult> {
    return this.signAndBroadcast(key, [msgSend(key.bech32, to, amount)], o);
  }

  /** Post a job; its id is read from the JobPosted event (needs `wait`, the default). */
  async postJob(key: Key, job: Omit<PostJobOptions, "poster">, o?: TxOptions): Promise<{ tx: TxResult; jobId: bigint | null }> {
    const tx = await this.signAndBroadcast(key, [msgPostJob({ ...job, poster: key.bech32 })], o);
    const ids = eventAttributes(tx, "JobPosted", "job_id");
    return { tx, jobId: ids.length ? BigInt(ids[0]!) : null };
  }

  cancelJob(key: Key, jobId: number | bigint | string, o?: TxOptions): Promise<TxResult> {
    return this.signAndBroadcast(key, [msgCancelJob(key.bech32, jobId)], o);
  }

  bondStake(key: Key, role: Role, amount: Amount, bond: BondOptions = {}, o?: TxOptions): Promise<TxResult> {
    return this.signAndBroadcast(key, [msgBond(key.bech32, role, amount, bond)], o);
  }

  unbondStake(key: Key, role: Role, amount: Amount, o?: TxOptions): Promise<TxResult> {
    return this.signAndBroadcast(key, [msgUnbond(key.bech32, role, amount)], o);
  }

  registerWorker(key: Key, w: Omit<RegisterWorkerOptions, "worker">, o?: TxOptions): Promise<TxResult> {
    return this.signAndBroadcast(key, [msgRegisterWorker({ ...w, worker: key.bech32 })], o);
  }

  /**
   * Attest a sampled job as an oracle: `signAttestation` signs the bytes
   * (ed25519, the oracle key registered with its bond), e.g. with
   * `Ed25519.createSignature` of @cosmjs/crypto.
   */
  async attest(
    key: Key,
    a: Omit<AttestOptions, "oracle" | "signature">,
    signAttestation: (signBytes: Uint8Array) => Uint8Array | Promise<Uint8Array>,
    o?: TxOptions,
  ): Promise<TxResult> {
    const bytes = attestSignBytes(await this.chainId(), a.jobId, a.verdict, a.similarityBps, a.evidenceHash);
    const signature = await signAttestation(bytes);
    return this.signAndBroadcast(key, [msgAttest({ ...a, oracle: key.bech32, signature })], o);
  }

  // -- results ------------------------------------------------------------------
  /**
   * Wait until a job reaches one of `states` (a final state by default) and
   * return it. The node's `/websocket` pushes each new block and the job is
   * read again then; without a WebSocket, or when the socket fails, it polls.
   */
  async waitForJob(
    id: number | bigint | string,
    o: { timeoutMs?: number; pollMs?: number; states?: readonly string[] } = {},
  ): Promise<Job> {
    const timeoutMs = o.timeoutMs ?? 120_000;
    const pollMs = o.pollMs ?? 1_000;
    const states = o.states ?? FINAL_JOB_STATES;
    const deadline = Date.now() + timeoutMs;
    let job = await this.job(id);
    if (states.includes(job.state)) return job;
    const blocks = this.WebSocketImpl ? newBlocks(this.rpcUrl, this.WebSocketImpl) : null;
    try {
      while (Date.now() < deadline) {
        const left = deadline - Date.now();
        if (blocks && blocks.alive()) await blocks.next(Math.min(left, pollMs * 10));
        else await sleep(Math.min(left, pollMs));
        job = await this.job(id);
        if (states.includes(job.state)) return job;
      }
    } finally {
      blocks?.close();
    }
    throw new TimeoutError(`job ${id} is ${job.state} after ${timeoutMs} ms (waiting for ${states.join(" or ")})`);
  }

  /**
   * The bytes of an artifact (`GET /artifacts/{sha256}`), checked against their name.
   * With `key`, the request carries that account's token (see artifacts.ts): a blob
   * that is not public (a job's input or output) is served only to an account
   * allowed to read it. A number as the second argument is `timeoutMs`.
   */
  async fetchArtifact(sha256: string, options: ArtifactOptions | number = {}): Promise<Uint8Array> {
    const o = typeof options === "number" ? { timeoutMs: options } : options;
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new InputError(`an artifact is named by its sha256 in 64 lower-case hex digits, got ${JSON.stringify(sha256)}`);
    const url = `${this.restUrl}/artifacts/${sha256}`;
    const headers: Record<string, string> = o.key ? { authorization: artifactAuthorization(artifactToken(o.key, "get", sha256, o.ttlSeconds)) } : {};
    const r = await this.transport.request(url, { headers }, o.timeoutMs);
    if (r.status === 404) throw new ArtifactError(`artifact ${sha256} is not in the node's store`);
    if (!r.ok) throw artifactRefusal(url, r.status, await r.text(), o.key !== undefined);
    const bytes = new Uint8Array(await r.arrayBuffer());
    const got = toHex(new Sha256(bytes).digest());
    if (got !== sha256) throw new ArtifactError(`artifact ${sha256}: the ${bytes.length} bytes served hash to ${got}; refusing them`);
    return bytes;
  }

  /** Upload `data` (bytes, or text as UTF-8) as `key`'s account, with its signed `put` token; the sha256 hex. */
  async putArtifact(key: Key, data: Uint8Array | string, options: Omit<ArtifactOptions, "key"> = {}): Promise<string> {
    const bytes = typeof data === "string" ? utf8(data) : data;
    const sha256 = toHex(new Sha256(bytes).digest());
    const url = `${this.restUrl}/artifacts/${sha256}`;
    const token = artifactToken(key, "put", sha256, options.ttlSeconds);
    const r = await this.transport.request(
      url,
      { method: "PUT", headers: { authorization: artifactAuthorization(token), "content-type": "application/octet-stream" }, body: bytes as Uint8Array<ArrayBuffer> },
      options.timeoutMs,
    );
    if (!r.ok) throw artifactRefusal(url, r.status, await r.text(), true);
    return sha256;
  }

  /** A link to an artifact that carries `key`'s `get` token (`?token=`), for a browser to open; plain without a key. */
  artifactUrl(sha256: string, key?: Key, ttlSeconds?: number): string {
    const url = `${this.restUrl}/artifacts/${sha256}`;
    return key ? `${url}?token=${encodeURIComponent(artifactToken(key, "get", sha256, ttlSeconds))}` : url;
  }

  /** A settled job's output, fetched and hash-checked; `key` (the poster's, the worker's or an oracle's) signs the read of an output that is not public. */
  async jobOutput(job: Job | number | bigint | string, key?: Key): Promise<Uint8Array> {
    const j = typeof job === "object" ? job : await this.job(job);
    if (!j.output_hash) throw new InputError(`job ${j.id} has no output yet (state ${j.state})`);
    return this.fetchArtifact(j.output_hash, { key });
  }
}

export interface ArtifactOptions {
  /** Signs the request (a `get` token); needed for a blob that is not public. */
  key?: Key;
  /** The token's lifetime, 1..3600 s (default 600). */
  ttlSeconds?: number;
  timeoutMs?: number;
}

/** The store's refusal, with its `{error, message}` and what to do about a 401. */
function artifactRefusal(url: string, status: number, body: string, signed: boolean): HttpError {
  let message = body.slice(0, 300);
  try {
    const d = JSON.parse(body) as { error?: string; message?: string };
    if (d && typeof d === "object" && (d.error || d.message)) message = [d.error, d.message].filter(Boolean).join(": ");
  } catch {
    // not JSON: the text itself
  }
  if (status === 401 && !signed) message += " (the node wants a token: pass the key of an account that may read it)";
  return new HttpError(url, status, body, message);
}
