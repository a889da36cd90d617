/// <reference types="node" />
// The client against fake nodes: a node that is down or never answers gives a
// clear error within a bounded time; queries, job waits and artifacts over a
// scripted fetch.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { describe, it } from "node:test";

import { Sha256 } from "@cosmjs/crypto";
import WebSocket, { WebSocketServer } from "ws";

import {
  ArtifactError,
  Key,
  fromBase64,
  txHash,
  NodeUnreachableError,
  QueryFailed,
  TimeoutError,
  VcoinClient,
  attestSignBytes,
  toBase64,
  toHex,
  type FetchLike,
  type WebSocketCtor,
} from "../src/index.js";

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
}

async function closedPort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

/** A fake node: JSON-RPC methods and REST paths answered by functions. */
function fakeNode(rpc: Record<string, (params: any) => unknown>, rest: Record<string, () => Response> = {}): FetchLike {
  return async (url, init) => {
    if (url.startsWith("http://rpc")) {
      const req = JSON.parse(String(init?.body));
      const fn = rpc[req.method];
      let body: unknown;
      try {
        body = fn ? { jsonrpc: "2.0", id: req.id, result: fn(req.params) } : { jsonrpc: "2.0", id: req.id, error: { code: -32601, message: "Method not found" } };
      } catch (e) {
        body = { jsonrpc: "2.0", id: req.id, error: { code: -32603, message: "Internal error", data: (e as Error).message } };
      }
      return new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
    }
    const path = url.replace("http://rest", "");
    return rest[path]?.() ?? new Response('{"code":5,"message":"not found"}', { status: 404 });
  };
}

function abciAnswer(value: unknown, code = 0, codespace = "", log = "") {
  return {
    response: {
      code,
      codespace,
      log,
      value: value === undefined ? null : toBase64(new TextEncoder().encode(JSON.stringify(value))),
      height: "5",
    },
  };
}

describe("a node that is down", () => {
  it("fails with NodeUnreachableError after a bounded retry", async () => {
    const port = await closedPort();
    const c = new VcoinClient({ rpc: `http://127.0.0.1:${port}`, rest: `http://127.0.0.1:${port}`, timeoutMs: 1000, retries: 2, retryDelayMs: 50 });
    const t0 = Date.now();
    await assert.rejects(c.chainId(), (e: Error) => {
      assert.ok(e instanceof NodeUnreachableError);
      assert.equal(e.attempts, 3);
      assert.match(e.message, new RegExp(`cannot reach the node at http://127.0.0.1:${port} after 3 attempt\\(s\\).*is it running\\?`));
      return true;
    });
    await assert.rejects(c.balances("vcoin1l0stxljezfgwtggpdv8qur4ekrqpk3s7z3txth"), NodeUnreachableError);
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  });

  it("gives up on a node that accepts connections but never answers", async () => {
    const sockets: import("node:net").Socket[] = [];
    const server = createServer((s) => sockets.push(s)); // reads nothing, answers nothing
    const port = await listen(server);
    try {
      const c = new VcoinClient({ rpc: `http://127.0.0.1:${port}`, rest: `http://127.0.0.1:${port}`, timeoutMs: 300, retries: 1, retryDelayMs: 10 });
      const t0 = Date.now();
      await assert.rejects(c.latestHeight(), (e: Error) => e instanceof NodeUnreachableError && /no answer within 300 ms/.test(e.message));
      const took = Date.now() - t0;
      assert.ok(took >= 550 && took < 3000, `took ${took} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});

describe("queries", () => {
  it("reads an account and maps not-found to null", async () => {
    const c = new VcoinClient({
      rpc: "http://rpc",
      rest: "http://rest",
      fetch: fakeNode({
        abci_query: (p) => {
          const req = JSON.parse(Buffer.from(p.data, "hex").toString());
          assert.equal(p.path, "/custom/auth/account");
          return req.address.endsWith("txth")
            ? abciAnswer({ address: req.address, account_number: "12", sequence: "3", pub_key: null })
            : abciAnswer(undefined, 38, "sdk", "account not found");
        },
      }),
    });
    // either address form is accepted; the node is asked with bech32
    const acc = await c.account("0xFbe0B37E591250E5a1016B0e0e0eB9B0C01b461e");
    assert.deepEqual(acc, { address: "vcoin1l0stxljezfgwtggpdv8qur4ekrqpk3s7z3txth", accountNumber: 12n, sequence: 3n, pubKey: null });
    assert.equal(await c.account("vcoin19rl4cm2hmr8afy4kldpxz3fka4jguq0as7xdlf"), null);
  });

  it("raises the chain's codespace and code", async () => {
    const c = new VcoinClient({ rpc: "http://rpc", rest: "http://rest", fetch: fakeNode({ abci_query: () => abciAnswer(undefined, 7, "jobs", "no job 9") }) });
    await assert.rejects(c.job(9), (e: Error) => e instanceof QueryFailed && e.codespace === "jobs" && e.code === 7 && /no job 9/.test(e.message));
  });

  it("times out waiting for a tx that never lands", async () => {
    const c = new VcoinClient({ rpc: "http://rpc", rest: "http://rest", fetch: fakeNode({
        tx: () => {
          throw new Error(`tx (${"AB".repeat(32)}) not found`);
        },
      }) });
    await assert.rejects(c.waitForTx("AB".repeat(32), 300, 50), (e: Error) => e instanceof TimeoutError && /not in a block after 300 ms/.test(e.message));
  });
});

describe("transactions", () => {
  it("takes a tx the mempool already holds (a retried broadcast) as accepted and waits for it", async () => {
    const key = Key.fromDevSeed("alice");
    let sent = "";
    const c = new VcoinClient({
      rpc: "http://rpc",
      rest: "http://rest",
      fetch: fakeNode({
        status: () => ({ node_info: { network: "vcoin-test" }, sync_info: { latest_block_height: "6" } }),
        abci_query: () => abciAnswer({ address: key.bech32, account_number: "3", sequence: "0", pub_key: null }),
        broadcast_tx_sync: (p) => {
          sent = p.tx;
          return { code: 19, codespace: "sdk", log: "tx already in mempool", hash: "" };
        },
        tx: () => ({ hash: "", height: "7", tx_result: { code: 0, gas_used: "30000", gas_wanted: "50000", events: [] } }),
      }),
    });
    const r = await c.send(key, key.hex, "1VCN", { gas: 50_000, fee: 0n });
    assert.equal(r.height, 7);
    assert.equal(r.code, 0);
    assert.equal(r.hash, txHash(fromBase64(sent)));
  });
});

describe("job results", () => {
  it("polls a job to its final state without a WebSocket", async () => {
    let calls = 0;
    const states = ["queued", "claimed", "submitted", "settled"];
    const c = new VcoinClient({
      rpc: "http://rpc",
      rest: "http://rest",
      WebSocket: null,
      fetch: fakeNode({ abci_query: () => abciAnswer({ id: "4", state: states[Math.min(calls++, 3)], output_hash: "" }) }),
    });
    const j = await c.waitForJob(4, { pollMs: 10, timeoutMs: 5000 });
    assert.equal(j.state, "settled");
    assert.equal(calls, 4);
  });

  it("reads the job again at each new block pushed over /websocket", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((r) => wss.once("listening", r));
    const port = (wss.address() as { port: number }).port;
    let subscribed = "";
    let state = "claimed";
    wss.on("connection", (ws) => {
      ws.on("message", (data) => {
        const req = JSON.parse(String(data));
        subscribed = req.params.query;
        ws.send(JSON.stringify({ jsonrpc: "2.0", id: req.id, result: {} }));
        setTimeout(() => {
          state = "settled";
          ws.send(JSON.stringify({ jsonrpc: "2.0", id: req.id, result: { query: subscribed, data: { type: "tendermint/event/NewBlockHeader", value: {} } } }));
        }, 100);
      });
    });
    try {
      let reads = 0;
      const c = new VcoinClient({
        rpc: `http://127.0.0.1:${port}`,
        rest: "http://rest",
        WebSocket: WebSocket as unknown as WebSocketCtor,
        fetch: async (_url, init) => {
          reads++;
          const req = JSON.parse(String(init?.body));
          return new Response(JSON.stringify({ jsonrpc: "2.0", id: req.id, result: abciAnswer({ id: "4", state }) }));
        },
      });
      const t0 = Date.now();
      // a poll interval far longer than the test: only the pushed block can wake the wait
      const j = await c.waitForJob(4, { pollMs: 60_000, timeoutMs: 10_000 });
      assert.equal(j.state, "settled");
      assert.equal(subscribed, "tm.event='NewBlockHeader'");
      assert.equal(reads, 2);
      assert.ok(Date.now() - t0 < 5000);
    } finally {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((r) => wss.close(r));
    }
  });

  it("falls back to polling when the websocket cannot connect", async () => {
    const port = await closedPort();
    let calls = 0;
    const c = new VcoinClient({
      rpc: `http://127.0.0.1:${port}`,
      rest: "http://rest",
      WebSocket: WebSocket as unknown as WebSocketCtor,
      fetch: async (_url, init) => {
        const req = JSON.parse(String(init?.body));
        const state = ++calls >= 3 ? "settled" : "queued";
        return new Response(JSON.stringify({ jsonrpc: "2.0", id: req.id, result: abciAnswer({ id: "4", state }) }));
      },
    });
    const j = await c.waitForJob(4, { pollMs: 20, timeoutMs: 5000 });
    assert.equal(j.state, "settled");
  });

  it("times out with the job's last state", async () => {
    const c = new VcoinClient({ rpc: "http://rpc", rest: "http://rest", WebSocket: null, fetch: fakeNode({ abci_query: () => abciAnswer({ id: "4", state: "queued" }) }) });
    await assert.rejects(c.waitForJob(4, { pollMs: 20, timeoutMs: 200 }), (e: Error) => e instanceof TimeoutError && /job 4 is queued/.test(e.message));
  });

  it("checks an artifact's bytes against its sha256", async () => {
    const good = new TextEncoder().encode('{"completions": []}');
    const name = toHex(new Sha256(good).digest());
    const other = "0".repeat(64);
    const c = new VcoinClient({
      rpc: "http://rpc",
      rest: "http://rest",
      fetch: fakeNode({}, { [`/artifacts/${name}`]: () => new Response(good), [`/artifacts/${other}`]: () => new Response(good) }),
    });
    assert.deepEqual(await c.fetchArtifact(name), good);
    await assert.rejects(c.fetchArtifact(other), (e: Error) => e instanceof ArtifactError && /hash to/.test(e.message));
    await assert.rejects(c.fetchArtifact("1".repeat(64)), (e: Error) => e instanceof ArtifactError && /not in the node's store/.test(e.message));
    await assert.rejects(c.fetchArtifact("XYZ"), /64 lower-case hex/);
  });
});

describe("attestations", () => {
  it("lays out the bytes an oracle signs as modules/verification/attestation.py does", () => {
    const ev = "ab".repeat(32);
    const b = attestSignBytes("vcoin-devnet-1", 7, "fail", 9876, ev);
    const want =
      toHex(new TextEncoder().encode("vcoin/attest/v1")) + "0e" + toHex(new TextEncoder().encode("vcoin-devnet-1")) + "0000000000000007" + "02" + "2694" + ev;
    assert.equal(toHex(b), want);
  });
});
