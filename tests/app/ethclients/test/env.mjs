// What the pytest wrapper (tests/app/test_ethrpc_clients.py) hands the clients: the node's
// Ethereum JSON-RPC URL, its chain id and a funded key, and the prebuilt contract artifacts.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: tests/app/test_ethrpc_clients.py sets it`);
  return v;
}

export const RPC_URL = need("ETHCLIENTS_RPC_URL");
export const CHAIN_ID = Number(need("ETHCLIENTS_CHAIN_ID"));
export const PRIVATE_KEY = need("ETHCLIENTS_PRIVATE_KEY");

const BUILD = join(dirname(fileURLToPath(import.meta.url)), "../../../../contracts/build");
export function artifact(name) {
  return JSON.parse(readFileSync(join(BUILD, `${name}.json`), "utf8"));
}
