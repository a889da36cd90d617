/**
 * EIP-1193 (MetaMask and other injected Ethereum providers): the typed
 * interface only. VCoin's EVM (DESIGN.md §9) is not in the node yet, and the
 * node does not yet accept eth_secp256k1 Cosmos txs, so nothing here sends:
 * `Eip1193Signer` is the shape the SDK will take once the EVM issue lands, and
 * `ethAccount` already shows a provider's account in both address forms.
 */
import { addressForms, type AddressForms } from "./address.js";
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

/** What a MetaMask-backed signer will offer once the EVM accepts its txs. */
export interface Eip1193Signer {
  readonly provider: Eip1193Provider;
  /** The selected account in both forms. */
  account(): Promise<AddressForms>;
  /** eth_sendTransaction to the EVM (not available yet). */
  sendTransaction(tx: { to: string; value?: bigint; data?: string }): Promise<string>;
}

/** The provider's first account (eth_requestAccounts) in both address forms. */
export async function ethAccount(provider: Eip1193Provider): Promise<AddressForms> {
  const accounts = (await provider.request({ method: "eth_requestAccounts" })) as string[];
  if (!Array.isArray(accounts) || accounts.length === 0) throw new VcoinError("key", "the provider gave no account");
  return addressForms(accounts[0]!);
}

export function eip1193Signer(provider: Eip1193Provider): Eip1193Signer {
  return {
    provider,
    account: () => ethAccount(provider),
    sendTransaction: async () => {
      throw new VcoinError("tx", "the VCoin EVM is not available yet: EIP-1193 transactions wait for the EVM issue");
    },
  };
}
