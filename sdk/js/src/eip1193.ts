/**
 * EIP-1193 (MetaMask and other injected Ethereum providers). A provider's
 * account is an `eth_secp256k1` account: its keccak address in both forms.
 *
 * `eip1193Signer(provider)` signs through the wallet: EVM transactions with
 * `eth_sendTransaction` (the wallet signs and sends them to the node's
 * Ethereum JSON-RPC, chain id 0x5643 on the devnet), messages with
 * `personal_sign` (EIP-191: what the gateway's EIP-4361 sign-in takes,
 * `GatewayClient.loginWithProvider`). `waitReceipt` polls
 * `eth_getTransactionReceipt` through the same provider.
 */
import { addressForms, type AddressForms } from "./address.js";
import { toHex, utf8 } from "./bytes.js";
import { VcoinError } from "./errors.js";

export interface Eip1193RequestArguments {
  readonly method: string;
  readonly params?: readonly unknown[] | object;
}

/** window.ethereum, as EIP-1193 specifies it. */
export interface Eip1193Provider {
  request(args: Eip1193RequestArguments): Promise<unknown>;
  on?(event: string, listener: (...args: unknown[]) => void): void;
  removeListener?(event: string, listener: (...args: unknown[]) => void): void;
}

/** An EVM transaction as `eth_sendTransaction` takes it (the wallet fills in the rest). */
export interface EthTransaction {
  to?: string;
  /** wei (= avcn) */
  value?: bigint;
  /** 0x… calldata */
  data?: string;
  gas?: bigint;
}

/** What `eth_getTransactionReceipt` answers (the fields the SDK reads). */
export interface EthReceipt {
  transactionHash: string;
  status: string;
  blockNumber: string;
  gasUsed: string;
  contractAddress?: string | null;
  logs: unknown[];
}

export interface Eip1193Signer {
  readonly provider: Eip1193Provider;
  /** The selected account in both forms. */
  account(): Promise<AddressForms>;
  /** eth_sendTransaction: the wallet signs and sends; answers the tx hash (0x…). */
  sendTransaction(tx: EthTransaction): Promise<string>;
  /** personal_sign (EIP-191) of a UTF-8 message: 0x… 65 bytes r‖s‖v. */
  personalSign(message: string): Promise<string>;
  /** The receipt of `hash` once it is in a block (polls; throws after `timeoutMs`). */
  waitReceipt(hash: string, timeoutMs?: number): Promise<EthReceipt>;
}

/** The provider's first account (eth_requestAccounts) in both address forms. */
export async function ethAccount(provider: Eip1193Provider): Promise<AddressForms> {
  const accounts = (await provider.request({ method: "eth_requestAccounts" })) as string[];
  if (!Array.isArray(accounts) || accounts.length === 0) throw new VcoinError("key", "the provider gave no account");
  return addressForms(accounts[0]!);
}

function quantity(n: bigint): string {
  return "0x" + n.toString(16);
}

export function eip1193Signer(provider: Eip1193Provider): Eip1193Signer {
  const account = () => ethAccount(provider);
  return {
    provider,
    account,
    async sendTransaction(tx: EthTransaction): Promise<string> {
      const from = (await account()).hex;
      const call: Record<string, string> = { from };
      if (tx.to !== undefined) call.to = tx.to;
      if (tx.value !== undefined) call.value = quantity(tx.value);
      if (tx.data !== undefined) call.data = tx.data;
      if (tx.gas !== undefined) call.gas = quantity(tx.gas);
      const hash = await provider.request({ method: "eth_sendTransaction", params: [call] });
      if (typeof hash !== "string") throw new VcoinError("tx", "the wallet answered no transaction hash");
      return hash;
    },
    async personalSign(message: string): Promise<string> {
      const from = (await account()).hex;
      const sig = await provider.request({ method: "personal_sign", params: ["0x" + toHex(utf8(message)), from] });
      if (typeof sig !== "string") throw new VcoinError("key", "the wallet answered no signature");
      return sig;
    },
    async waitReceipt(hash: string, timeoutMs = 30_000): Promise<EthReceipt> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = (await provider.request({ method: "eth_getTransactionReceipt", params: [hash] })) as EthReceipt | null;
        if (r) return r;
        if (Date.now() > deadline) throw new VcoinError("timeout", `no receipt for ${hash} within ${timeoutMs} ms`);
        await new Promise((res) => setTimeout(res, 250));
      }
    },
  };
}
