/// <reference types="node" />
// The gateway client and the eth_secp256k1 / EIP-1193 paths against a real
// node, worker and gateway, when the environment names them (otherwise skipped;
// tests/sdk/test_js_gateway.py starts them):
//
//   VCOIN_SDK_RPC, VCOIN_SDK_REST, VCOIN_SDK_JSONRPC   the node (RPC, REST, Ethereum JSON-RPC)
//   VCOIN_SDK_GATEWAY, VCOIN_SDK_GATEWAY_ACCOUNT      the gateway and its chain account
//   VCOIN_SDK_MNEMONIC_JS                              a funded account's mnemonic
//
// The mnemonic's eth_secp256k1 key (m/44'/60') is funded by its Cosmos key and
// signs its own Cosmos txs (a grant to the gateway); both keys sign in (EIP-4361
// and ADR-036), and so does an EIP-1193 provider backed by the eth key, which
// also sends an EVM value transfer with eth_sendTransaction. Completions, a
// streamed chat and embeddings answer what the chain settled; each refusal is
// a GatewayError with the HTTP status and OpenAI's code.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";

import WebSocket from "ws";

import {
  GatewayClient,
  GatewayError,
  Key,
  NodeUnreachableError,
  VcoinClient,
  eip1193Signer,
  msgGrantPostJob,
  type WebSocketCtor,
} from "../src/index.js";
import { KeyProvider } from "./keyprovider.js";

const env = process.env;
const skip = env.VCOIN_SDK_GATEWAY && env.VCOIN_SDK_MNEMONIC_JS && env.VCOIN_SDK_JSONRPC ? false : "set VCOIN_SDK_GATEWAY, VCOIN_SDK_JSONRPC, … (tests/sdk/test_js_gateway.py)";
const VCN = 10n ** 18n;

async function status(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof GatewayError, String(e));
    return e;
  }
  assert.fail("the gateway accepted it");
}

describe("the gateway and eth_secp256k1 against a node", { skip }, () => {
  let client: VcoinClient;
  let cosmos: Key;
  let eth: Key;
  let apiKey: string;
  const url = env.VCOIN_SDK_GATEWAY!;

  before(async () => {
    client = new VcoinClient({ rpc: env.VCOIN_SDK_RPC!, rest: env.VCOIN_SDK_REST!, WebSocket: WebSocket as unknown as WebSocketCtor });
    cosmos = await Key.fromMnemonic(env.VCOIN_SDK_MNEMONIC_JS!);
    eth = await Key.ethFromMnemonic(env.VCOIN_SDK_MNEMONIC_JS!);
    assert.equal((await client.send(cosmos, eth.hex, "100VCN")).code, 0);
    // the eth_secp256k1 key signs its own Cosmos tx; the Cosmos key grants too
    assert.equal((await client.signAndBroadcast(eth, [msgGrantPostJob(eth.bech32, env.VCOIN_SDK_GATEWAY_ACCOUNT!, "50VCN")])).code, 0);
    assert.equal((await client.signAndBroadcast(cosmos, [msgGrantPostJob(cosmos.bech32, env.VCOIN_SDK_GATEWAY_ACCOUNT!, "20VCN")])).code, 0);
    const g = new GatewayClient(url);
    await g.login(eth);
    apiKey = (await g.createKey({ name: "js", spendCap: "10VCN" })).key;
  });

  it("signs in three ways and manages keys", async () => {
    const g = new GatewayClient(url);
    const s = await g.login(eth); // EIP-4361, personal_sign
    assert.equal(s.address, eth.bech32);
    assert.equal(s.eth_address, eth.hex);
    const k = await g.createKey({ name: "tmp", scopes: ["models"], rateLimit: 5 });
    assert.ok(k.key.startsWith("vk_") && k.owner === eth.bech32);
    assert.ok((await g.keys()).some((x) => x.id === k.id));
    const api = new GatewayClient(url, { apiKey: k.key });
    assert.ok((await api.models()).some((m) => m.id === "tiny-lm"));
    assert.equal((await status(api.completions({ model: "tiny-lm", prompt: "x", max_tokens: 2 }))).status, 403);
    await g.revokeKey(k.id);
    const e = await status(api.models());
    assert.equal(e.status, 401);
    assert.equal(e.type, "authentication_error");
    assert.equal((await status(g.revokeKey(k.id))).code, "key_not_found");

    const c = new GatewayClient(url);
    assert.equal((await c.login(cosmos)).address, cosmos.bech32); // ADR-036
    assert.deepEqual(await c.keys(), []);
    const over = await status(c.createKey({ spendCap: "21VCN" }));
    assert.equal(over.status, 400);
    assert.equal(over.code, "spend_cap_above_grant");

    const w = new GatewayClient(url);
    const provider = new KeyProvider(eth, env.VCOIN_SDK_JSONRPC!);
    assert.equal((await w.loginWithProvider(provider)).address, eth.bech32); // MetaMask's way
    assert.ok(provider.calls.includes("personal_sign"));
    assert.ok((await w.keys()).length >= 1);
  });

  it("a completion and a streamed chat equal the settled outputs", async () => {
    const api = new GatewayClient(url, { apiKey });
    const r = await api.completions({ model: "tiny-lm", prompt: "The GPU marketplace", max_tokens: 6 });
    const job = await client.job(r.vcoin.job_id);
    assert.equal(job.state, "settled");
    assert.equal(job.poster, eth.bech32);
    const done = JSON.parse(new TextDecoder().decode(await client.jobOutput(job, eth))).completions[0];
    assert.equal(r.choices[0].text, done.completion);

    const chunks = [];
    for await (const c of api.chatStream({ model: "tiny-lm", messages: [{ role: "user", content: "Hi" }], max_tokens: 4 })) chunks.push(c);
    assert.deepEqual(new Set(chunks.map((c) => c.object)), new Set(["chat.completion.chunk"]));
    const text = chunks.map((c) => c.choices[0].delta.content ?? "").join("");
    const last = chunks[chunks.length - 1]!;
    const out = JSON.parse(new TextDecoder().decode(await client.jobOutput(await client.job(last.vcoin.job_id), eth))).completions[0];
    assert.equal(text, out.completion);
    assert.equal(out.prompt, "user: Hi\nassistant:");
  });

  it("a streamed completion: text_completion chunks, one index per prompt", async () => {
    const api = new GatewayClient(url, { apiKey });
    const chunks = [];
    for await (const c of api.completionsStream({ model: "tiny-lm", prompt: ["Hello", "A GPU"], max_tokens: 4 })) chunks.push(c);
    assert.deepEqual(new Set(chunks.map((c) => c.object)), new Set(["text_completion"]));
    const texts = ["", ""];
    for (const c of chunks) texts[c.choices[0].index] += c.choices[0].text;
    const last = chunks[chunks.length - 1]!;
    const done = JSON.parse(new TextDecoder().decode(await client.jobOutput(await client.job(last.vcoin.job_id), eth))).completions;
    assert.deepEqual(texts, done.map((d: { completion: string }) => d.completion));
  });

  it("embeddings: one vector per input from a settled job", async () => {
    const api = new GatewayClient(url, { apiKey });
    const r = await api.embeddings({ model: "all-minilm-l6-v2", input: ["hello", "a GPU market"] });
    assert.equal(r.data.length, 2);
    assert.ok(r.data[0].embedding.length > 0);
    assert.equal((await client.job(r.vcoin.job_id)).state, "settled");
  });

  it("refusals are GatewayErrors with status and OpenAI's code", async () => {
    const body = { model: "tiny-lm", prompt: "x", max_tokens: 2 };
    assert.equal((await status(new GatewayClient(url, { apiKey: "vk_nope_nope" }).completions(body))).status, 401);
    const api = new GatewayClient(url, { apiKey });
    const nf = await status(api.completions({ ...body, model: "no-such-model" }));
    assert.equal(nf.status, 404);
    const bad = await status(api.completions({ ...body, max_tokens: 0 }));
    assert.equal(bad.status, 400);
    assert.equal(bad.param, "max_tokens");
    const g = new GatewayClient(url);
    await g.login(eth);
    const small = (await g.createKey({ spendCap: VCN / 2n })).key; // under one job's escrow
    const quota = await status(new GatewayClient(url, { apiKey: small }).completions(body));
    assert.equal(quota.status, 402);
    assert.equal(quota.type, "insufficient_quota");
    const slow = new GatewayClient(url, { apiKey: (await g.createKey({ scopes: ["models"], rateLimit: 1 })).key });
    await slow.models();
    assert.equal((await status(slow.models())).status, 429);
    const down = new GatewayClient("http://127.0.0.1:9", { apiKey, retries: 0, timeoutMs: 2000 });
    await assert.rejects(down.models(), NodeUnreachableError);
  });

  it("an EIP-1193 provider sends an EVM value transfer with eth_sendTransaction", async () => {
    const signer = eip1193Signer(new KeyProvider(eth, env.VCOIN_SDK_JSONRPC!));
    const before = await client.balance(cosmos.bech32);
    const hash = await signer.sendTransaction({ to: cosmos.hex, value: 2n * VCN });
    const receipt = await signer.waitReceipt(hash);
    assert.equal(receipt.status, "0x1");
    assert.equal(await client.balance(cosmos.bech32), before + 2n * VCN);
  });
});
