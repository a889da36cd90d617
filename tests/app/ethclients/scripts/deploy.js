// Run by Hardhat 2 (`npx hardhat run --no-compile --network vcoin scripts/deploy.js`):
// deploys OZToken from the prebuilt artifact with the configured account, calls it and
// reads its events back. Throws (a non-zero exit) when the node answers wrong.
const assert = require("node:assert/strict");
const path = require("node:path");
const hre = require("hardhat");

const BUILD = path.join(__dirname, "../../../../contracts/build");

async function main() {
  const { ethers, network } = hre;
  assert.equal(network.name, "vcoin");
  const [signer] = await ethers.getSigners();
  const chainId = (await ethers.provider.getNetwork()).chainId;
  assert.equal(chainId, BigInt(process.env.ETHCLIENTS_CHAIN_ID));
  const OZ = require(path.join(BUILD, "OZToken.json"));

  const supply = ethers.parseEther("500");
  const factory = new ethers.ContractFactory(OZ.abi, OZ.bytecode, signer);
  const token = await factory.deploy(supply);
  await token.waitForDeployment();
  const address = await token.getAddress();
  assert.equal(await token.name(), "OZ Token");
  assert.equal(await token.balanceOf(signer.address), supply);

  const to = ethers.Wallet.createRandom().address;
  const tx = await token.transfer(to, ethers.parseEther("2.5"));
  assert.equal(tx.type, 2, "Hardhat sends EIP-1559 txs to an EIP-1559 node");
  const rc = await tx.wait();
  assert.equal(rc.status, 1);
  assert.equal(await token.balanceOf(to), ethers.parseEther("2.5"));
  const events = await token.queryFilter(token.filters.Transfer(signer.address, to), rc.blockNumber);
  assert.equal(events.length, 1);
  assert.equal(events[0].args.value, ethers.parseEther("2.5"));

  // a raw EIP-1193 request through Hardhat's provider
  const bn = await network.provider.request({ method: "eth_blockNumber", params: [] });
  assert.ok(BigInt(bn) >= BigInt(rc.blockNumber));
  console.log(`hardhat: OZToken at ${address}, transfer in block ${rc.blockNumber}, chain ${chainId}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
