// A test EIP-1193 provider standing in for MetaMask in Node: it holds one local
// eth_secp256k1 key, answers eth_requestAccounts / eth_accounts / eth_chainId,
// signs personal_sign (EIP-191) and eth_sendTransaction (a legacy EIP-155 tx,
// nonce, gas price and gas from the node), sending the raw tx with
// eth_sendRawTransaction; every other call goes to the node's Ethereum
// JSON-RPC (`rpcUrl`). Never a wallet for real keys.
import { Secp256k1 } from "@cosmjs/crypto";
import { keccak_256 } from "@noble/hashes/sha3.js";

import { fromHex, toHex, type Eip1193Provider, type Eip1193RequestArguments, type Key } from "../src/index.js";

const intBytes = (n: bigint): Uint8Array => (n === 0n ? new Uint8Array() : fromHex(n.toString(16).padStart(Math.ceil(n.toString(16).length / 2) * 2, "0")));
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));
const prefix = (len: number, off: number): Uint8Array =>
  len < 56 ? Uint8Array.of(off + len) : concat(Uint8Array.of(off + 55 + intBytes(BigInt(len)).length), intBytes(BigInt(len)));
const rlpItem = (b: Uint8Array): Uint8Array => (b.length === 1 && b[0]! < 0x80 ? b : concat(prefix(b.length, 0x80), b));
export const rlpList = (items: Uint8Array[]): Uint8Array => {
  const body = concat(...items.map(rlpItem));
  return concat(prefix(body.length, 0xc0), body);
};
const hexBytes = (h: string | undefined): Uint8Array => fromHex((h ?? "").replace(/^0x/, ""));

export class KeyProvider implements Eip1193Provider {
  readonly calls: string[] = [];
  constructor(
    readonly key: Key,
    readonly rpcUrl: string,
  ) {}

  async node(method: string, params: unknown): Promise<unknown> {
    const r = await fetch(this.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
    const body = (await r.json()) as { result?: unknown; error?: { code: number; message: string } };
    if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code });
    return body.result;
  }

  async request({ method, params }: Eip1193RequestArguments): Promise<unknown> {
    this.calls.push(method);
    const p = (params ?? []) as unknown[];
    switch (method) {
      case "eth_requestAccounts":
      case "eth_accounts":
        return [this.key.hex.toLowerCase()];
      case "personal_sign": {
        const [data, from] = p as [string, string];
        if (from.toLowerCase() !== this.key.hex.toLowerCase()) throw Object.assign(new Error("unknown account"), { code: 4100 });
        return "0x" + toHex(this.key.personalSign(hexBytes(data)));
      }
      case "eth_sendTransaction":
        return this.sendTransaction(p[0] as Record<string, string>);
      default:
        return this.node(method, p);
    }
  }

  private async sendTransaction(tx: Record<string, string>): Promise<unknown> {
    const from = this.key.hex;
    const nonce = BigInt((await this.node("eth_getTransactionCount", [from, "pending"])) as string);
    const gasPrice = BigInt((await this.node("eth_gasPrice", [])) as string);
    const call = { from, to: tx.to, value: tx.value ?? "0x0", data: tx.data ?? "0x" };
    const gas = BigInt(tx.gas ?? ((await this.node("eth_estimateGas", [call])) as string));
    const chainId = BigInt((await this.node("eth_chainId", [])) as string);
    const fields = [intBytes(nonce), intBytes(gasPrice), intBytes(gas), hexBytes(tx.to), intBytes(BigInt(tx.value ?? 0)), hexBytes(tx.data)];
    const digest = keccak_256(rlpList([...fields, intBytes(chainId), new Uint8Array(), new Uint8Array()]));
    const sig = Secp256k1.createSignature(digest, this.key.privateKey);
    const v = chainId * 2n + 35n + BigInt(sig.recovery);
    const r = BigInt("0x" + toHex(sig.r(32)));
    const s = BigInt("0x" + toHex(sig.s(32)));
    const raw = rlpList([...fields, intBytes(v), intBytes(r), intBytes(s)]);
    return this.node("eth_sendRawTransaction", ["0x" + toHex(raw)]);
  }
}
