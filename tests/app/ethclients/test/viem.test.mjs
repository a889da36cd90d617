// viem 2 (publicClient + walletClient with a local account) against VCoin's Ethereum JSON-RPC.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  parseEther,
  parseEventLogs,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { CHAIN_ID, PRIVATE_KEY, RPC_URL, artifact } from "./env.mjs";

const OZ = artifact("OZToken");
const PROBE = artifact("EvmProbe");
const vcoin = defineChain({
  id: CHAIN_ID,
  name: "VCoin devnet",
  nativeCurrency: { name: "VCoin", symbol: "VCN", decimals: 18 },
  rpcUrls: { default: { http: [RPC_URL] } },
});
const account = privateKeyToAccount(PRIVATE_KEY);
const pub = createPublicClient({ chain: vcoin, transport: http(), pollingInterval: 100 });
const wallet = createWalletClient({ account, chain: vcoin, transport: http() });
const OTHER = privateKeyToAccount(generatePrivateKey()).address;

test("viem: chain id, balance, fees, a transfer, an OZ token, getLogs", async () => {
  assert.equal(await pub.getChainId(), CHAIN_ID);
  const start = await pub.getBalance({ address: account.address });
  assert.ok(start >= parseEther("5"), `the funded key holds ${start}`);

  const block = await pub.getBlock();
  assert.ok(block.baseFeePerGas > 0n);
  const fees = await pub.estimateFeesPerGas();
  assert.ok(fees.maxFeePerGas >= block.baseFeePerGas, JSON.stringify(fees, (k, v) => String(v)));
  assert.ok(fees.maxPriorityFeePerGas >= 0n);
  assert.ok((await pub.getGasPrice()) > 0n);

  const hash = await wallet.sendTransaction({ to: OTHER, value: parseEther("1") });
  const rc = await pub.waitForTransactionReceipt({ hash, timeout: 30_000 });
  assert.equal(rc.status, "success");
  assert.equal(rc.type, "eip1559");
  assert.equal(rc.gasUsed, 21000n);
  assert.equal(await pub.getBalance({ address: OTHER }), parseEther("1"));
  assert.equal(
    await pub.getBalance({ address: account.address }),
    start - parseEther("1") - rc.gasUsed * rc.effectiveGasPrice,
  );
  const tx = await pub.getTransaction({ hash });
  assert.equal(tx.from.toLowerCase(), account.address.toLowerCase());
  assert.equal(tx.type, "eip1559");

  // deploy OZToken from the prebuilt artifact
  const supply = parseEther("1000");
  const deployHash = await wallet.deployContract({ abi: OZ.abi, bytecode: OZ.bytecode, args: [supply] });
  const deployRc = await pub.waitForTransactionReceipt({ hash: deployHash, timeout: 30_000 });
  assert.equal(deployRc.status, "success");
  const address = deployRc.contractAddress;
  assert.ok(address);
  const read = (functionName, args = []) => pub.readContract({ address, abi: OZ.abi, functionName, args });
  assert.equal(await read("decimals"), 18);
  assert.equal(await read("balanceOf", [account.address]), supply);

  // simulate, then send a transfer
  const { request, result } = await pub.simulateContract({
    account,
    address,
    abi: OZ.abi,
    functionName: "transfer",
    args: [OTHER, parseEther("3")],
  });
  assert.equal(result, true);
  const sendHash = await wallet.writeContract(request);
  const sendRc = await pub.waitForTransactionReceipt({ hash: sendHash, timeout: 30_000 });
  assert.equal(sendRc.status, "success");
  assert.equal(await read("balanceOf", [OTHER]), parseEther("3"));
  const [ev] = parseEventLogs({ abi: OZ.abi, logs: sendRc.logs, eventName: "Transfer" });
  assert.equal(ev.args.value, parseEther("3"));

  // getLogs with an event filter and an indexed argument, and over a block range
  const transferEvent = OZ.abi.find((x) => x.type === "event" && x.name === "Transfer");
  const all = await pub.getLogs({ address, event: transferEvent, fromBlock: deployRc.blockNumber, toBlock: "latest" });
  assert.deepEqual(
    all.map((l) => [l.args.to, l.args.value]),
    [
      [account.address, supply],
      [OTHER, parseEther("3")],
    ],
  );
  const toOther = await pub.getLogs({
    address,
    event: transferEvent,
    args: { to: OTHER },
    fromBlock: 0n,
    toBlock: sendRc.blockNumber,
  });
  assert.equal(toOther.length, 1);
  assert.equal(toOther[0].transactionHash, sendHash);
  const events = await pub.getContractEvents({ address, abi: OZ.abi, eventName: "Transfer", fromBlock: sendRc.blockNumber });
  assert.equal(events.length, 1);
});

test("viem: a reverted call names its reason", async () => {
  const hash = await wallet.deployContract({ abi: PROBE.abi, bytecode: PROBE.bytecode });
  const { contractAddress } = await pub.waitForTransactionReceipt({ hash, timeout: 30_000 });
  const err = await pub
    .simulateContract({ account, address: contractAddress, abi: PROBE.abi, functionName: "callThenRevert", args: [OTHER, "0x"] })
    .then(() => null, (e) => e);
  assert.ok(err instanceof BaseError, String(err));
  const revert = err.walk((e) => e instanceof ContractFunctionRevertedError);
  assert.ok(revert, String(err));
  assert.equal(revert.reason, "EvmProbe: reverting after the call");
});

test("viem: watchBlockNumber (polling) sees new blocks", async () => {
  const first = await pub.getBlockNumber();
  const seen = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unwatch();
      reject(new Error(`saw only ${seen} after block ${first} in 20 s`));
    }, 20_000);
    const unwatch = pub.watchBlockNumber({
      poll: true,
      pollingInterval: 100,
      emitMissed: true,
      onBlockNumber: (n) => {
        seen.push(n);
        if (n > first + 1n) {
          clearTimeout(timer);
          unwatch();
          resolve();
        }
      },
      onError: (e) => {
        clearTimeout(timer);
        unwatch();
        reject(e);
      },
    });
  });
  // strictly increasing, by one (emitMissed fills any block a poll skipped)
  for (let i = 1; i < seen.length; i++) assert.equal(seen[i], seen[i - 1] + 1n);
});
