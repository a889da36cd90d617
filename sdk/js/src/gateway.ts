/**
 * The gateway's API (`vcoin-gateway`): sign-in, API keys and the
 * OpenAI-compatible routes.
 *
 *   const gw = new GatewayClient("http://127.0.0.1:8080");
 *   await gw.login(await Key.ethFromMnemonic(words));  // EIP-4361; a Cosmos key: ADR-036
 *   const { key } = await gw.createKey({ name: "app", spendCap: "10VCN" });
 *   const api = new GatewayClient("http://127.0.0.1:8080", { apiKey: key });
 *   (await api.completions({ model: "tiny-lm", prompt: "Hello", max_tokens: 16 })).choices[0].text;
 *   for await (const chunk of api.chatStream({ model: "tiny-lm", messages })) …
 *
 * Sign-in: `login(key)` asks `GET /v1/auth/challenge` for the key's address
 * and signs the answer's message: an eth_secp256k1 key signs the EIP-4361 text
 * for its `0x…` address with personal_sign (EIP-191); a secp256k1 key signs the
 * CAIP-122 text for its `vcoin1…` address as ADR-036 data.
 * `loginWithProvider(provider)` has an EIP-1193 wallet (MetaMask) sign it.
 * The session token (a JWT) then authorises `createKey`, `keys`, `revokeKey`.
 *
 * The gateway posts each request as a job for the key's owner (MsgExec): the
 * owner first grants the gateway's account MsgPostJob (`msgGrantPostJob`).
 * A refusal throws `GatewayError` with the HTTP `status` and OpenAI's `code`,
 * `type` and `param` (401, 402, 403, 404, 429, 400, 5xx); a gateway that does
 * not answer throws NodeUnreachableError (no retry unless `retries` is given:
 * a retried POST would post a second job).
 */
import { toVcoinAddress } from "./address.js";
import { DENOM, parseAmount } from "./amount.js";
import { toBase64 } from "./bytes.js";
import type { Eip1193Provider } from "./eip1193.js";
import { eip1193Signer } from "./eip1193.js";
import { VcoinError } from "./errors.js";
import { Transport, type TransportOptions } from "./http.js";
import type { Key } from "./keys.js";
import { MsgGrantSchema, MsgRevokeSchema } from "./gen/vcoin/authz/v1/tx_pb.js";
import { encodeVcoin, type Amount, type EncodedMsg } from "./msgs.js";

/** The API scopes a key may hold. */
export const GATEWAY_SCOPES = ["models", "completions", "embeddings", "files", "fine_tuning"] as const;

export class GatewayError extends VcoinError {
  readonly status: number;
  readonly code: string | null;
  readonly type: string;
  readonly param: unknown;
  constructor(status: number, message: string, code: string | null = null, type = "", param: unknown = null) {
    super("gateway", `gateway ${status} ${code ?? type}: ${message}`);
    this.status = status;
    this.code = code;
    this.type = type;
    this.param = param;
  }
}

export interface ApiKeyInfo {
  id: string;
  object: "api_key";
  name: string;
  owner: string;
  scopes: string[];
  /** avcn, decimal string */
  spend_cap: string;
  spent: string;
  rate_limit: number;
  created: number;
  revoked: number | null;
  /** the secret `vk_…`: only in createKey's answer */
  key?: string;
}

export interface Session {
  access_token: string;
  token_type: string;
  expires_in: number;
  address: string;
  eth_address: string;
}

export interface Challenge {
  nonce: string;
  expires_at: number;
  message: string;
  domain: string;
  uri: string;
  chain_id: string;
}

/** OpenAI's shapes are passed through as JSON; `vcoin` names the chain job. */
export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface GatewayOptions extends TransportOptions {
  apiKey?: string;
  token?: string;
}

/** ADR-036's amino-JSON sign bytes of `data` signed by `signer` (vcoin1…). */
export function adr036SignDoc(signer: string, data: Uint8Array): Uint8Array {
  const doc =
    '{"account_number":"0","chain_id":"","fee":{"amount":[],"gas":"0"},"memo":"",' +
    `"msgs":[{"type":"sign/MsgSignData","value":{"data":"${toBase64(data)}","signer":"${signer}"}}],` +
    '"sequence":"0"}';
  return new TextEncoder().encode(doc);
}

/** The MsgGrant (authz) that lets the gateway's account post jobs for `granter`, up to `spendLimit`. */
export function msgGrantPostJob(granter: string, gatewayAccount: string, spendLimit: Amount): EncodedMsg {
  return encodeVcoin(MsgGrantSchema, {
    granter: toVcoinAddress(granter),
    grantee: toVcoinAddress(gatewayAccount),
    msgTypeUrl: "/vcoin.jobs.v1.MsgPostJob",
    spendLimit: { denom: DENOM, amount: parseAmount(spendLimit).toString() },
  });
}

/** Revoke that grant: the gateway can post no more jobs for `granter`. */
export function msgRevokePostJob(granter: string, gatewayAccount: string): EncodedMsg {
  return encodeVcoin(MsgRevokeSchema, {
    granter: toVcoinAddress(granter),
    grantee: toVcoinAddress(gatewayAccount),
    msgTypeUrl: "/vcoin.jobs.v1.MsgPostJob",
  });
}

type Auth = "none" | "key" | "jwt";

export class GatewayClient {
  readonly baseUrl: string;
  apiKey?: string;
  token?: string;
  private readonly http: Transport;

  constructor(baseUrl: string, o: GatewayOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "");
    this.apiKey = o.apiKey;
    this.token = o.token;
    // an inference request waits for its job to settle: minutes, not seconds; and no
    // retries by default: a POST retried after a timeout would post a second job
    this.http = new Transport({ timeoutMs: 300_000, retries: 0, ...o });
  }

  private headers(auth: Auth): Record<string, string> {
    const h: Record<string, string> = { "content-type": "application/json" };
    if (auth === "none") return h;
    const secret = auth === "key" ? this.apiKey : this.token;
    if (!secret) {
      const what = auth === "key" ? "an API key (apiKey)" : "a session (login first)";
      throw new GatewayError(401, `this call needs ${what}`, "missing_credentials");
    }
    h.authorization = `Bearer ${secret}`;
    return h;
  }

  private async fetch(method: string, path: string, auth: Auth, body?: unknown): Promise<Response> {
    const init: RequestInit = { method, headers: this.headers(auth) };
    if (body !== undefined) init.body = JSON.stringify(body);
    const r = await this.http.request(this.baseUrl + path, init);
    if (r.status >= 400) throw await errorOf(r);
    return r;
  }

  private async call<T>(method: string, path: string, auth: Auth, body?: unknown): Promise<T> {
    return (await (await this.fetch(method, path, auth, body)).json()) as T;
  }

  // -- sign-in and keys -------------------------------------------------------
  async challenge(address: string): Promise<Challenge> {
    return this.call("GET", `/v1/auth/challenge?address=${encodeURIComponent(address)}`, "none");
  }

  /** Sign in with a key: EIP-4361 + personal_sign (eth_secp256k1) or ADR-036 (secp256k1). */
  async login(key: Key): Promise<Session> {
    const eth = key.type === "eth_secp256k1";
    const address = eth ? key.hex : key.bech32;
    const { message } = await this.challenge(address);
    if (message.split("\n")[1] !== address) throw new GatewayError(0, "the challenge does not name this key's address", "bad_challenge");
    const body = eth
      ? { message, signature: "0x" + toHexString(key.personalSign(message)) }
      : {
          message,
          signature: toBase64(key.signBytes(adr036SignDoc(address, new TextEncoder().encode(message)))),
          pub_key: toBase64(key.publicKey),
        };
    return this.session(await this.call<Session>("POST", "/v1/auth/login", "none", body));
  }

  /** Sign in through an EIP-1193 wallet (MetaMask): it signs the EIP-4361 text with personal_sign. */
  async loginWithProvider(provider: Eip1193Provider): Promise<Session> {
    const signer = eip1193Signer(provider);
    const { hex } = await signer.account();
    const { message } = await this.challenge(hex);
    const signature = await signer.personalSign(message);
    return this.session(await this.call<Session>("POST", "/v1/auth/login", "none", { message, signature }));
  }

  private session(s: Session): Session {
    this.token = s.access_token;
    return s;
  }

  /** A new API key; `key` (the secret) is in this answer only. `spendCap`: avcn or "10VCN". */
  async createKey(o: { name?: string; scopes?: string[]; spendCap?: string | bigint; rateLimit?: number } = {}): Promise<ApiKeyInfo & { key: string }> {
    const body: Json = { name: o.name ?? "", spend_cap: parseAmount(o.spendCap ?? 0n).toString() };
    if (o.scopes !== undefined) body.scopes = o.scopes;
    if (o.rateLimit !== undefined) body.rate_limit = o.rateLimit;
    return this.call("POST", "/v1/keys", "jwt", body);
  }

  async keys(): Promise<ApiKeyInfo[]> {
    return (await this.call<{ data: ApiKeyInfo[] }>("GET", "/v1/keys", "jwt")).data;
  }

  async revokeKey(id: string): Promise<void> {
    await this.call("DELETE", `/v1/keys/${encodeURIComponent(id)}`, "jwt");
  }

  // -- the OpenAI-compatible routes ------------------------------------------
  async models(): Promise<Json[]> {
    return (await this.call<{ data: Json[] }>("GET", "/v1/models", "key")).data;
  }

  /** POST /v1/completions (OpenAI's body: model, prompt, max_tokens, …). */
  async completions(body: Json): Promise<Json> {
    return this.call("POST", "/v1/completions", "key", { ...body, stream: false });
  }

  async chat(body: Json): Promise<Json> {
    return this.call("POST", "/v1/chat/completions", "key", { ...body, stream: false });
  }

  /** The `text_completion` chunks of a streamed completion (SSE), to `[DONE]`. */
  completionsStream(body: Json): AsyncGenerator<Json> {
    return this.stream("/v1/completions", body);
  }

  /** The `chat.completion.chunk` objects of a streamed chat completion (SSE), to `[DONE]`. */
  chatStream(body: Json): AsyncGenerator<Json> {
    return this.stream("/v1/chat/completions", body);
  }

  async embeddings(body: Json): Promise<Json> {
    return this.call("POST", "/v1/embeddings", "key", body);
  }

  private async *stream(path: string, body: Json): AsyncGenerator<Json> {
    const r = await this.fetch("POST", path, "key", { ...body, stream: true });
    if (!r.body) throw new GatewayError(r.status, "the stream has no body", "bad_stream");
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (value) buf += dec.decode(value, { stream: true });
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i).replace(/\r$/, "");
        buf = buf.slice(i + 1);
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") {
          await reader.cancel();
          return;
        }
        const chunk = JSON.parse(data) as Json;
        if (chunk.error) throw new GatewayError(0, String(chunk.error.message), chunk.error.code ?? null, chunk.error.type ?? "");
        yield chunk;
      }
      if (done) throw new GatewayError(r.status, "the stream ended before [DONE]", "bad_stream");
    }
  }
}

function toHexString(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

async function errorOf(r: Response): Promise<GatewayError> {
  const text = await r.text();
  let e: Json = {};
  try {
    const j = JSON.parse(text) as Json;
    e = typeof j.error === "object" && j.error !== null ? (j.error as Json) : { message: String(j.error ?? text) };
  } catch {
    e = { message: text.slice(0, 500) || r.statusText };
  }
  return new GatewayError(r.status, String(e.message ?? r.statusText), e.code ?? null, String(e.type ?? ""), e.param ?? null);
}
