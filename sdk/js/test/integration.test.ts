/// <reference types="node" />
// Against a real node, when the environment names one (otherwise skipped):
//
//   VCOIN_RPC, VCOIN_REST     the node's RPC and REST URLs
//   VCOIN_CHAIN_ID            optional: checked against the node's
//   VCOIN_MNEMONIC            a funded account's mnemonic, or
//   VCOIN_PRIVATE_KEY         its 32-byte secret in hex, or
//   VCOIN_DEV_SEED            a devnet key's public seed ("alice")
//   VCOIN_ADDRESS             optional: the funded account's address, checked
//   VCOIN_JOB_MODEL           default tiny-lm (text-generation); a worker must serve it
//   VCOIN_JOB_TIMEOUT_MS      how long the job may take to settle (default 300000)
//
// Sends VCN to a fresh key and back, posts a job that a real worker runs (and
// an oracle may sample), waits for settlement, fetches and hash-checks the
// output, reads the worker's reputation and bonds, bonds/unbonds and registers
// a worker with the fresh key, and cancels a job no worker can take.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Sha256 } from "@cosmjs/crypto";
import WebSocket from "ws";

import { Key, VcoinClient, formatVcn, generateMnemonic, parseAddress, toHex, type WebSocketCtor } from "../src/index.js";

const env = process.env;
const configured = Boolean(env.VCOIN_RPC && env.VCOIN_REST && (env.VCOIN_MNEMONIC || env.VCOIN_PRIVATE_KEY || env.VCOIN_DEV_SEED));
const skip = configured ? false : "set VCOIN_RPC, VCOIN_REST and VCOIN_MNEMONIC (or VCOIN_PRIVATE_KEY / VCOIN_DEV_SEED) to run against a node";

async function funded(): Promise<Key> {
  if (env.VCOIN_MNEMONIC) return Key.fromMnemonic(env.VCOIN_MNEMONIC);
  if (env.VCOIN_PRIVATE_KEY) return Key.fromPrivateKey(env.VCOIN_PRIVATE_KEY);
  return Key.fromDevSeed(env.VCOIN_DEV_SEED!);
}

describe("against a node", { skip }, () => {
  const client = (): VcoinClient =>
    new VcoinClient({ rpc: env.VCOIN_RPC!, rest: env.VCOIN_REST!, chainId: env.VCOIN_CHAIN_ID || undefined, WebSocket: WebSocket as unknown as WebSocketCtor });
  const model = env.VCOIN_JOB_MODEL ?? "tiny-lm";
  const jobTimeout = Number(env.VCOIN_JOB_TIMEOUT_MS ?? 300_000);

  it("sends VCN to a fresh key and back", async () => {
    const c = client();
    const me = await funded();
    if (env.VCOIN_ADDRESS) assert.deepEqual(parseAddress(env.VCOIN_ADDRESS), me.address, "the mnemonic's account");
    const fresh = await Key.fromMnemonic(generateMnemonic());
    const before = await c.balance(me.bech32);
    assert.ok(before > 10n ** 21n, `${me.bech32} holds ${formatVcn(before)}; fund it`);
    const sent = await c.send(me, fresh.hex, "5VCN"); // either address form
    assert.equal(sent.code, 0);
    assert.ok(sent.height > 0);
    assert.ok(sent.gasUsed > 0n && sent.gasUsed <= sent.gasWanted, "simulated gas covers what was used");
    assert.equal(await c.balance(fresh.bech32), 5n * 10n ** 18n);
    assert.deepEqual(await c.balances(fresh.bech32), [{ denom: "avcn", amount: "5000000000000000000" }]);
    const back = await c.send(fresh, me.bech32, "1.5VCN");
    assert.equal(back.code, 0);
    const left = await c.balance(fresh.bech32);
    assert.ok(left < 35n * 10n ** 17n && left > 3n * 10n ** 18n, `left ${formatVcn(left)} (3.5VCN less the fee)`);
    const acc = await c.account(fresh.bech32);
    assert.equal(acc?.sequence, 1n);
  });

  it("posts a job that a worker runs, waits for settlement and checks the output", async () => {
    const c = client();
    const me = await funded();
    const { tx, jobId } = await c.postJob(me, {
      taskType: "text-generation",
      model,
      input: JSON.stringify({ prompts: ["The GPU marketplace"] }),
      spec: { params: { max_new_tokens: 8 } },
      maxPrice: "2VCN",
    });
    assert.equal(tx.code, 0);
    assert.ok(jobId !== null && jobId > 0n);
    const job = await c.waitForJob(jobId!, { timeoutMs: jobTimeout });
    assert.equal(job.state, "settled", `job ${jobId}: ${job.state} ${job.last_error}`);
    const out = await c.jobOutput(job, me); // the poster's token: a job's output is not public
    assert.equal(toHex(new Sha256(out).digest()), job.output_hash);
    const result = JSON.parse(new TextDecoder().decode(out));
    assert.ok(Array.isArray(result.completions), "a text-generation output has completions");
    // a signed upload comes back to its uploader, hash-checked
    const text = `sdk js artifact ${Date.now()}`;
    const sha = await c.putArtifact(me, text);
    assert.equal(new TextDecoder().decode(await c.fetchArtifact(sha, { key: me })), text);

    const rep = await c.reputation(job.worker);
    assert.equal(rep.address, job.worker);
    assert.ok(rep.score_bps >= 0 && rep.score_bps <= 10_000);
    const bonds = await c.bonds(job.worker);
    const worker = bonds.find((b) => b.role === "worker");
    assert.ok(worker && BigInt(worker.bonded) > 0n, "the worker that ran it is bonded");
    const mine = await c.jobs({ poster: me.hex, limit: 100 });
    assert.ok(mine.jobs.length > 0);
  });

  it("bonds, unbonds and registers a worker, and cancels a job no worker can take", async () => {
    const c = client();
    const me = await funded();
    const fresh = await Key.fromMnemonic(generateMnemonic());
    const minBond = BigInt((await c.params("staking")).min_bond_worker);
    await c.send(me, fresh.bech32, minBond + 10n ** 19n);
    await c.bondStake(fresh, "worker", minBond);
    assert.equal((await c.bond(fresh.bech32, "worker")).bonded, minBond.toString());
    await c.unbondStake(fresh, "worker", "1VCN");
    const b = await c.bond(fresh.bech32, "worker");
    assert.equal(b.bonded, (minBond - 10n ** 18n).toString());
    assert.equal(b.unbonding.length, 1);
    // an ask nobody will pay, so this worker is never the one that runs a job
    await c.registerWorker(fresh, {
      gpuModel: "sdk-test-gpu",
      memoryMib: 1024,
      gpuCount: 1,
      taskTypes: ["embedding"],
      models: ["all-minilm-l6-v2"],
      priceFloor: "1000000VCN",
    });

    const { jobId } = await c.postJob(me, {
      taskType: "text-generation",
      model,
      input: "never runs",
      maxPrice: "1VCN",
      gpuModel: "no-such-gpu",
    });
    await c.cancelJob(me, jobId!);
    assert.equal((await c.job(jobId!)).state, "cancelled");
  });
});
