/**
 * The transport: fetch with a per-attempt timeout and a bounded retry of
 * failures that never reached the node (refused connection, DNS, timeout).
 * An answer from the node, even an error, is never retried here. A node that
 * is down costs at most `attempts × timeoutMs + delays`, then
 * NodeUnreachableError: never a hang.
 */
import { NodeUnreachableError } from "./errors.js";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface TransportOptions {
  /** Per attempt, in ms (default 10,000). */
  timeoutMs?: number;
  /** Attempts after the first on a transport failure (default 2). */
  retries?: number;
  /** Wait before the first retry, doubled each time (default 200 ms). */
  retryDelayMs?: number;
  fetch?: FetchLike;
}

export class Transport {
  readonly timeoutMs: number;
  readonly retries: number;
  readonly retryDelayMs: number;
  private readonly fetchFn: FetchLike;

  constructor(o: TransportOptions = {}) {
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.retries = o.retries ?? 2;
    this.retryDelayMs = o.retryDelayMs ?? 200;
    const f = o.fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (!f) throw new Error("no fetch: pass options.fetch (Node.js 18+ and browsers have one)");
    this.fetchFn = (input, init) => f(input, init);
  }

  /** fetch `url`; the Response of the first attempt that reached the node. */
  async request(url: string, init: RequestInit = {}, timeoutMs = this.timeoutMs): Promise<Response> {
    let last: unknown;
    const attempts = this.retries + 1;
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await sleep(this.retryDelayMs * 2 ** (i - 1));
      const ctrl = new AbortController();
      const timer = setTimeout(() => ctrl.abort(), timeoutMs);
      try {
        return await this.fetchFn(url, { ...init, signal: ctrl.signal });
      } catch (e) {
        last = ctrl.signal.aborted ? new Error(`no answer within ${timeoutMs} ms`) : describe(e);
      } finally {
        clearTimeout(timer);
      }
    }
    throw new NodeUnreachableError(url, attempts, last);
  }
}

function describe(e: unknown): Error {
  // Node's fetch says "fetch failed" and keeps the reason (ECONNREFUSED…) in `cause`.
  if (e instanceof Error && e.cause instanceof Error) return new Error(`${e.message}: ${e.cause.message}`);
  return e instanceof Error ? e : new Error(String(e));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
