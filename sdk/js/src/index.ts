/** @vcoin/sdk: keys, queries, transactions and job results for VCoin. */
export * from "./address.js";
export * from "./amount.js";
export * from "./artifacts.js";
export { fromBase64, fromHex, toBase64, toHex } from "./bytes.js";
export * from "./blocks.js";
export * from "./client.js";
export * from "./eip1193.js";
export * from "./errors.js";
export * from "./gateway.js";
export { Transport, type FetchLike, type TransportOptions } from "./http.js";
export * from "./keys.js";
export * from "./msgs.js";
export * from "./tx.js";
export { FINAL_JOB_STATES, eventAttributes, type Account, type Bond, type Job, type Reputation, type TxEvent, type TxResult } from "./views.js";
export * as gen from "./proto.js";
