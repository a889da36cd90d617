/**
 * Errors of the SDK. Every error is a VcoinError with a stable `kind`, so a
 * caller can branch on it without parsing messages; the chain's own refusals
 * carry its codespace and code (`ChainRefused`).
 */

export type ErrorKind =
  | "address"
  | "amount"
  | "mnemonic"
  | "key"
  | "unreachable"
  | "rpc"
  | "http"
  | "query"
  | "tx"
  | "timeout"
  | "artifact"
  | "gateway"
  | "input";

export class VcoinError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = new.target.name;
  }
}

/** An address that is not a valid `vcoin1…` or `0x…` account address. */
export class AddressError extends VcoinError {
  constructor(message: string) {
    super("address", message);
  }
}

/** An amount that cannot be read (a bad number, unit, or too many decimals). */
export class AmountError extends VcoinError {
  constructor(message: string) {
    super("amount", message);
  }
}

/** A mnemonic that is not a valid English BIP-39 phrase. */
export class MnemonicError extends VcoinError {
  constructor(message: string) {
    super("mnemonic", message);
  }
}

export class KeyError extends VcoinError {
  constructor(message: string) {
    super("key", message);
  }
}

/** A bad argument to an SDK call (a job id, a hash, a verdict…). */
export class InputError extends VcoinError {
  constructor(message: string) {
    super("input", message);
  }
}

/** The node could not be reached after the bounded retries. */
export class NodeUnreachableError extends VcoinError {
  readonly url: string;
  readonly attempts: number;
  constructor(url: string, attempts: number, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      "unreachable",
      `cannot reach the node at ${url} after ${attempts} attempt(s) (${why}); is it running?`,
      { cause },
    );
    this.url = url;
    this.attempts = attempts;
  }
}

/** A JSON-RPC error answer from the node. */
export class RpcError extends VcoinError {
  readonly code: number;
  readonly data: string;
  constructor(message: string, code = 0, data = "") {
    super("rpc", data ? `${message}: ${data}` : message);
    this.code = code;
    this.data = data;
  }
}

/** A REST answer that is not 2xx: the gateway's `{code, message}` when it has one. */
export class HttpError extends VcoinError {
  readonly status: number;
  readonly body: string;
  constructor(url: string, status: number, body: string, message?: string) {
    super("http", `${url}: HTTP ${status}${message ? `: ${message}` : ""}`);
    this.status = status;
    this.body = body;
  }
}

/** The chain answered and said no: a registered (codespace, code) and a log. */
export class ChainRefused extends VcoinError {
  readonly codespace: string;
  readonly code: number;
  readonly log: string;
  constructor(kind: ErrorKind, codespace: string, code: number, log: string) {
    super(kind, codespace ? `${codespace}/${code}: ${log}` : `code ${code}: ${log}`);
    this.codespace = codespace;
    this.code = code;
    this.log = log;
  }
}

export class QueryFailed extends ChainRefused {
  constructor(codespace: string, code: number, log: string) {
    super("query", codespace, code, log);
  }
}

/** A tx refused in CheckTx (`stage: "check"`, nothing happened) or failed in
 * its block (`stage: "deliver"`: the fee is paid, the sequence used). */
export class TxFailed extends ChainRefused {
  readonly hash: string;
  readonly height: number;
  readonly stage: "check" | "deliver";
  constructor(hash: string, height: number, stage: "check" | "deliver", codespace: string, code: number, log: string) {
    super("tx", codespace, code, log);
    this.hash = hash;
    this.height = height;
    this.stage = stage;
  }
}

export class TimeoutError extends VcoinError {
  constructor(message: string) {
    super("timeout", message);
  }
}

/** An artifact that is missing, or whose bytes do not hash to its name. */
export class ArtifactError extends VcoinError {
  constructor(message: string) {
    super("artifact", message);
  }
}
