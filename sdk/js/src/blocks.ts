/**
 * New blocks over the node's `/websocket` (CometBFT's event subscription,
 * `tm.event='NewBlockHeader'`): what job waits sleep on between reads. The
 * WebSocket constructor is the caller's (a browser's, Node 22's global, or the
 * `ws` package's); when the socket fails, `alive()` turns false and the caller
 * polls instead.
 */

/** A WebSocket constructor (the browser's, Node 22's global, or the `ws` package's). */
export type WebSocketCtor = new (url: string) => WebSocketLike;
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(): void;
}

export interface BlockStream {
  /** Resolves at the next block (or one already seen), or after `ms`. */
  next(ms: number): Promise<void>;
  alive(): boolean;
  close(): void;
}

/** New-block notifications over `/websocket`; `alive()` turns false when the socket fails. */
export function newBlocks(rpcUrl: string, Ctor: WebSocketCtor): BlockStream {
  const url = `${rpcUrl.replace(/^http/, "ws")}/websocket`;
  let ok = true;
  let wake: (() => void) | null = null;
  let pending = 0;
  let ws: WebSocketLike | null = null;
  const fail = () => {
    ok = false;
    wake?.();
  };
  try {
    ws = new Ctor(url);
    ws.onopen = () => ws!.send(JSON.stringify({ jsonrpc: "2.0", id: "vcoin-sdk-blocks", method: "subscribe", params: { query: "tm.event='NewBlockHeader'" } }));
    ws.onmessage = (ev) => {
      let m: any;
      try {
        m = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (m.error) return fail();
      if (m.result?.data) {
        pending++;
        wake?.();
      }
    };
    ws.onerror = fail;
    ws.onclose = fail;
  } catch {
    ok = false;
  }
  return {
    alive: () => ok,
    next: (ms) =>
      new Promise<void>((resolve) => {
        if (pending > 0 || !ok) {
          pending = 0;
          return resolve();
        }
        const t = setTimeout(() => done(), ms);
        const done = () => {
          clearTimeout(t);
          wake = null;
          pending = 0;
          resolve();
        };
        wake = done;
      }),
    close: () => {
      ok = false;
      if (ws) {
        ws.onclose = ws.onerror = ws.onmessage = null;
        try {
          ws.close();
        } catch {
          /* already closed */
        }
      }
    },
  };
}
