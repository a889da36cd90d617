#!/usr/bin/env node
// Signed bank sends per second from one Node.js process to a node, with the SDK
// as an application uses it: CosmJS signs each tx (SIGN_MODE_DIRECT), the
// client tracks sequences locally and broadcasts sync; the clock runs from the
// first broadcast until every send is in a block. Build first (`npm run build`;
// `npm run bench:sends` builds and runs), then:
//
//   node bench/sends.mjs --rpc http://127.0.0.1:26657 --rest http://127.0.0.1:1317 \
//       --dev-seed alice [--count 1000] [--accounts 4]
//
// --mnemonic WORDS instead of --dev-seed names the funded key. With --accounts K
// the funded key first pays K fresh keys, which then send in K concurrent loops
// (one key's txs must reach the mempool in sequence order, so one loop per key).
// Prints the signing rate alone (no network), the rate CheckTx accepted the txs
// at, and the committed sends/s; the last line is one JSON object with
// {"sent": N, "seconds": S} (sends in a block; first broadcast to the last one
// in a block), what scripts/bench/sdk_sends.py --sdk js reads.
//
// Defaults come from scripts/bench/sdk_sends.py's environment when it is set:
// VCOIN_SDK_RPC, VCOIN_SDK_REST, VCOIN_SDK_MNEMONIC, VCOIN_SDK_TO, VCOIN_SDK_COUNT.
import { parseArgs } from "node:util";

import { Key, VcoinClient, generateMnemonic, msgSend, signTx } from "../dist/src/index.js";

const env = process.env;
const { values: o } = parseArgs({
  options: {
    rpc: { type: "string", default: env.VCOIN_SDK_RPC ?? "http://127.0.0.1:26657" },
    rest: { type: "string", default: env.VCOIN_SDK_REST ?? "http://127.0.0.1:1317" },
    "dev-seed": { type: "string" },
    mnemonic: { type: "string", default: env.VCOIN_SDK_MNEMONIC },
    to: { type: "string", default: env.VCOIN_SDK_TO },
    count: { type: "string", default: env.VCOIN_SDK_COUNT ?? "1000" },
    accounts: { type: "string", default: "1" },
    quiet: { type: "boolean", default: false },
  },
});
const count = Number(o.count);
const k = Number(o.accounts);
const say = (...a) => o.quiet || console.log(...a);

const client = new VcoinClient({ rpc: o.rpc, rest: o.rest });
const funded = o.mnemonic ? await Key.fromMnemonic(o.mnemonic) : Key.fromDevSeed(o["dev-seed"] ?? "alice");
const chainId = await client.chainId();
const sink = o.to ?? Key.fromDevSeed("vcoin-sdk-js-bench-sink").bech32;

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
const lastHashes = [];
const hashes = [];
let refused = 0;
await Promise.all(
  senders.map(async (s) => {
    let last = null;
    for (let i = 0; i < perSender; i++) {
      const r = await client.signAndBroadcast(s, [msgSend(s.bech32, sink, 1n)], { gas, fee, wait: false, check: false });
      if (r.code !== 0) refused++;
      else {
        last = r.hash;
        hashes.push(r.hash);
      }
    }
    if (last) lastHashes.push(last);
  }),
);
const tAccepted = performance.now();
const tried = perSender * senders.length;
// one key's txs land in sequence order: its last in a block means all of its are
const lasts = await Promise.all(lastHashes.map((h) => client.waitForTx(h, 120_000, 50)));
const tCommitted = performance.now();
// then, off the clock, count the sends that succeeded in their block
let ok = 0;
for (const h of hashes) if ((await client.getTx(h))?.code === 0) ok++;
const seconds = (tCommitted - t0) / 1000;
const result = {
  sent: ok,
  seconds: Number(seconds.toFixed(3)),
  per_s: Math.round(ok / seconds),
  tried,
  refused,
  accounts: senders.length,
  gas: Number(gas),
  sign_per_s: Math.round(signRate),
  checktx_per_s: Math.round((tried - refused) / ((tAccepted - t0) / 1000)),
  last_height: Math.max(0, ...lasts.map((r) => r.height)),
};
say(`${tried} sends from ${senders.length} account(s), gas ${gas} each, ${refused} refused at CheckTx, ${ok} succeeded in a block`);
say(`signing only:       ${result.sign_per_s} tx/s`);
say(`accepted (CheckTx): ${result.checktx_per_s} tx/s`);
say(`committed:          ${result.per_s} sends/s (${result.seconds} s to the last tx's block ${result.last_height})`);
console.log(JSON.stringify(result));
