#!/usr/bin/env node
// Signed bank sends per second from one Node.js process to a node, with the SDK
// as an application uses it: CosmJS signs each tx (SIGN_MODE_DIRECT), the
// client tracks sequences locally and broadcasts sync; the clock stops when the
// last tx is in a block. Build first (`npm run build`), then:
//
//   node bench/sends.mjs --rpc http://127.0.0.1:26657 --rest http://127.0.0.1:1317 \
//       --dev-seed alice [--count 1000] [--accounts 4]
//
// --mnemonic WORDS instead of --dev-seed names the funded key. With --accounts K
// the funded key first pays K fresh keys, which then send in K concurrent loops
// (one key's txs must reach the mempool in sequence order, so one loop per key).
// Prints the signing rate alone (no network), the rate CheckTx accepted the txs
// at, and the committed sends/s; --json prints one JSON object instead.
import { parseArgs } from "node:util";

import { Key, VcoinClient, generateMnemonic, msgSend, signTx } from "../dist/src/index.js";

const { values: o } = parseArgs({
  options: {
    rpc: { type: "string", default: "http://127.0.0.1:26657" },
    rest: { type: "string", default: "http://127.0.0.1:1317" },
    "dev-seed": { type: "string" },
    mnemonic: { type: "string" },
    count: { type: "string", default: "1000" },
    accounts: { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  },
});
const count = Number(o.count);
const k = Number(o.accounts);
const say = (...a) => o.json || console.log(...a);

const client = new VcoinClient({ rpc: o.rpc, rest: o.rest });
const funded = o.mnemonic ? await Key.fromMnemonic(o.mnemonic) : Key.fromDevSeed(o["dev-seed"] ?? "alice");
const chainId = await client.chainId();
const sink = Key.fromDevSeed("vcoin-sdk-js-bench-sink").bech32;

// senders: the funded key itself, or K fresh keys it pays first
let senders = [funded];
if (k > 1) {
  senders = await Promise.all(Array.from({ length: k }, () => Key.fromMnemonic(generateMnemonic(12))));
  let last;
  for (const s of senders) last = await client.send(funded, s.bech32, "100VCN", { wait: false });
  await client.waitForTx(last.hash, 60_000);
}
const perSender = Math.ceil(count / senders.length);
// one simulation fixes the gas of every send (they are all alike)
const gas = await client.estimateGas(senders[0], [msgSend(senders[0].bech32, sink, 1n)]);
const fee = gas * (await client.gasPrice());

// signing alone, no network
{
  const t0 = performance.now();
  const n = Math.min(count, 300);
  for (let i = 0; i < n; i++) {
    await signTx(funded, [msgSend(funded.bech32, sink, 1n)], { chainId, accountNumber: 0n, sequence: BigInt(i), gasLimit: gas, feeAmount: fee });
  }
  var signRate = n / ((performance.now() - t0) / 1000);
}

const t0 = performance.now();
let lastHash = null;
let refused = 0;
await Promise.all(
  senders.map(async (s) => {
    for (let i = 0; i < perSender; i++) {
      const r = await client.signAndBroadcast(s, [msgSend(s.bech32, sink, 1n)], { gas, fee, wait: false, check: false });
      if (r.code !== 0) refused++;
      else lastHash = r.hash;
    }
  }),
);
const tAccepted = performance.now();
const sent = perSender * senders.length;
const last = lastHash ? await client.waitForTx(lastHash, 120_000, 50) : null;
const tCommitted = performance.now();
const result = {
  sends: sent,
  refused,
  accounts: senders.length,
  gas: Number(gas),
  sign_per_s: Math.round(signRate),
  checktx_per_s: Math.round((sent - refused) / ((tAccepted - t0) / 1000)),
  committed_per_s: Math.round((sent - refused) / ((tCommitted - t0) / 1000)),
  seconds: Number(((tCommitted - t0) / 1000).toFixed(2)),
  last_height: last?.height ?? 0,
};
if (o.json) console.log(JSON.stringify(result));
else {
  say(`${sent} sends from ${senders.length} account(s), gas ${gas} each, ${refused} refused`);
  say(`signing only:       ${result.sign_per_s} tx/s`);
  say(`accepted (CheckTx): ${result.checktx_per_s} tx/s`);
  say(`committed:          ${result.committed_per_s} sends/s (${result.seconds} s to the last tx's block ${result.last_height})`);
}
