// ethers v6 (JsonRpcProvider + Wallet) against VCoin's Ethereum JSON-RPC.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { ContractFactory, JsonRpcProvider, Wallet, isError, parseEther, Contract } from "ethers";
import { CHAIN_ID, PRIVATE_KEY, RPC_URL, artifact } from "./env.mjs";

const OZ = artifact("OZToken");
const PROBE = artifact("EvmProbe");
// staticNetwork: no eth_chainId before every call; pollingInterval: receipts within 100 ms;
// cacheTimeout -1: ethers otherwise answers a repeated identical request (a balance, the
// pending nonce) from a 250 ms cache, and --instant blocks come faster than that
const provider = new JsonRpcProvider(RPC_URL, CHAIN_ID, {
  staticNetwork: true,
  pollingInterval: 100,
  cacheTimeout: -1,
});
const wallet = new Wallet(PRIVATE_KEY, provider);
const OTHER = Wallet.createRandom().address;
after(() => provider.destroy());

test("ethers v6: chain id, balance, fee data, a type-2 transfer, an OZ token and its logs", async () => {
  const net = await provider.getNetwork();
  assert.equal(net.chainId, BigInt(CHAIN_ID));
  assert.equal(await provider.send("eth_chainId", []), "0x" + CHAIN_ID.toString(16));
  const start = await provider.getBalance(wallet.address);
  assert.ok(start >= parseEther("5"), `the funded key holds ${start}`);

  const fee = await provider.getFeeData();
  assert.ok(fee.maxFeePerGas > 0n && fee.maxPriorityFeePerGas >= 0n && fee.gasPrice > 0n);
  const head = await provider.getBlock("latest");
  assert.ok(head.baseFeePerGas > 0n, "EIP-1559 blocks carry a base fee");
  assert.ok(fee.maxFeePerGas >= head.baseFeePerGas);

  // a type-2 transfer, fees filled in by ethers, waited for
  const tx = await wallet.sendTransaction({ to: OTHER, value: parseEther("1") });
  assert.equal(tx.type, 2);
  const rc = await tx.wait(1, 30_000);
  assert.equal(rc.status, 1);
  assert.equal(rc.gasUsed, 21000n);
  assert.equal(await provider.getBalance(OTHER), parseEther("1"));
  assert.equal(
    await provider.getBalance(wallet.address),
    start - parseEther("1") - rc.gasUsed * rc.gasPrice,
  );
  assert.equal(await provider.getTransactionCount(wallet.address), 1);
  const got = await provider.getTransaction(rc.hash);
  assert.equal(got.from, wallet.address);
  assert.equal(got.blockNumber, rc.blockNumber);

  // deploy OZToken from the prebuilt artifact, transfer, read balanceOf
  const supply = parseEther("1000");
  const factory = new ContractFactory(OZ.abi, OZ.bytecode, wallet);
  const token = await factory.deploy(supply);
  const deployRc = await token.deploymentTransaction().wait(1, 30_000);
  assert.equal(deployRc.status, 1);
  const addr = await token.getAddress();
  assert.equal(deployRc.contractAddress, addr);
  assert.notEqual(await provider.getCode(addr), "0x");
  assert.equal(await token.symbol(), "OZT");
  assert.equal(await token.totalSupply(), supply);
  assert.equal(await token.balanceOf(wallet.address), supply);

  const sent = await token.transfer(OTHER, parseEther("7"));
  const sentRc = await sent.wait(1, 30_000);
  assert.equal(sentRc.status, 1);
  assert.equal(await token.balanceOf(OTHER), parseEther("7"));
  assert.equal(await token.balanceOf(wallet.address), supply - parseEther("7"));
  const [parsed] = sentRc.logs.map((l) => token.interface.parseLog(l));
  assert.equal(parsed.name, "Transfer");
  assert.deepEqual([...parsed.args], [wallet.address, OTHER, parseEther("7")]);

  // Transfer logs through a filter: the mint and the transfer; only the transfer to OTHER
  const all = await token.queryFilter(token.filters.Transfer(), deployRc.blockNumber, "latest");
  assert.deepEqual(
    all.map((e) => [e.args.to, e.args.value]),
    [
      [wallet.address, supply],
      [OTHER, parseEther("7")],
    ],
  );
  // from block 0, as dapps ask (the chain starts at 1)
  const toOther = await token.queryFilter(token.filters.Transfer(null, OTHER), 0, "latest");
  assert.equal(toOther.length, 1);
  assert.equal(toOther[0].transactionHash, sentRc.hash);
  assert.equal(toOther[0].blockNumber, sentRc.blockNumber);
  const byHash = await provider.getLogs({ address: addr, blockHash: sentRc.blockHash });
  assert.equal(byHash.length, 1);
});

test("ethers v6: a reverted call's error carries its reason, a custom error its name", async () => {
  const probe = await new ContractFactory(PROBE.abi, PROBE.bytecode, wallet).deploy();
  await probe.deploymentTransaction().wait(1, 30_000);
  await assert.rejects(probe.callThenRevert.staticCall(OTHER, "0x"), (err) => {
    assert.ok(isError(err, "CALL_EXCEPTION"), String(err));
    assert.equal(err.reason, "EvmProbe: reverting after the call");
    assert.equal(err.revert.name, "Error");
    return true;
  });
  // estimateGas of a reverting tx fails the same way, before anything is sent
  await assert.rejects(probe.callThenRevert(OTHER, "0x"), (err) => {
    assert.ok(isError(err, "CALL_EXCEPTION"), String(err));
    assert.equal(err.reason, "EvmProbe: reverting after the call");
    return true;
  });
  // an OpenZeppelin custom error, decoded from the ABI
  const token = await new ContractFactory(OZ.abi, OZ.bytecode, wallet).deploy(10n);
  await token.deploymentTransaction().wait(1, 30_000);
  const poor = new Contract(await token.getAddress(), OZ.abi, provider);
  await assert.rejects(poor.transfer.staticCall(OTHER, 11n, { from: wallet.address }), (err) => {
    assert.ok(isError(err, "CALL_EXCEPTION"), String(err));
    assert.equal(err.revert.name, "ERC20InsufficientBalance");
    assert.deepEqual([...err.revert.args], [wallet.address, 10n, 11n]);
    return true;
  });
});
