// Hardhat 2 against VCoin: `npx hardhat run --no-compile --network vcoin scripts/deploy.js`
// (tests/app/test_ethrpc_clients.py), and `npx hardhat node` as the reference node of
// scripts/bench/jsonrpc.py. Nothing here is compiled: the contracts come prebuilt from
// contracts/build (compiling would make Hardhat download solc).
require("@nomicfoundation/hardhat-ethers");

const key = process.env.ETHCLIENTS_PRIVATE_KEY;

module.exports = {
  solidity: "0.8.24", // never used: no sources, and scripts run with --no-compile
  paths: { sources: "./no-sources", cache: "./node_modules/.hardhat-cache", artifacts: "./node_modules/.hardhat-artifacts" },
  networks: {
    vcoin: {
      url: process.env.ETHCLIENTS_RPC_URL || "http://127.0.0.1:8545",
      chainId: process.env.ETHCLIENTS_CHAIN_ID ? Number(process.env.ETHCLIENTS_CHAIN_ID) : undefined,
      accounts: key ? [key] : [],
      timeout: 60_000,
    },
  },
};
