/**
 * Keys: BIP-39 mnemonics and the two BIP-44 accounts of one mnemonic.
 *
 *   m/44'/118'/0'/0/0  secp256k1, Cosmos address ripemd160(sha256(pubkey)):
 *                      the accounts the node accepts txs from today
 *   m/44'/60'/0'/0/0   eth_secp256k1, Ethereum address keccak256(pubkey)[12:]:
 *                      the MetaMask account; it signs Cosmos txs too, under
 *                      Ethermint's /ethermint.crypto.v1.ethsecp256k1.PubKey,
 *                      over keccak256 of the SignDoc, and EIP-191 messages
 *                      (`personalSign`, the gateway's EIP-4361 sign-in)
 *
 * Either account prints in both forms (`vcoin1…` and EIP-55 `0x…` of the
 * same 20 bytes). A secp256k1 key signs through CosmJS's `DirectSecp256k1Wallet`.
 */
import { DirectSecp256k1Wallet, type DirectSignResponse } from "@cosmjs/proto-signing";
import {
  Bip39,
  EnglishMnemonic,
  Random,
  Ripemd160,
  Secp256k1,
  Sha256,
  Slip10,
  Slip10Curve,
  stringToPath,
} from "@cosmjs/crypto";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { SignDoc } from "cosmjs-types/cosmos/tx/v1beta1/tx";

import { toBech32, toChecksumHex } from "./address.js";
import { fromHex, toBase64, toHex, utf8 } from "./bytes.js";
import { KeyError, MnemonicError } from "./errors.js";

export const COSMOS_HD_PATH = "m/44'/118'/0'/0/0";
export const ETH_HD_PATH = "m/44'/60'/0'/0/0";

export type KeyType = "secp256k1" | "eth_secp256k1";

/** The Any type URL of each key type's public key in a tx's SignerInfo. */
export const PUBKEY_TYPE_URLS: Record<KeyType, string> = {
  secp256k1: "/cosmos.crypto.secp256k1.PubKey",
  eth_secp256k1: "/ethermint.crypto.v1.ethsecp256k1.PubKey",
};

/** A new English BIP-39 mnemonic (24 words by default; 12, 15, 18, 21 or 24). */
export function generateMnemonic(words: 12 | 15 | 18 | 21 | 24 = 24): string {
  const bytes = { 12: 16, 15: 20, 18: 24, 21: 28, 24: 32 }[words];
  if (bytes === undefined) throw new MnemonicError(`a mnemonic has 12, 15, 18, 21 or 24 words, not ${words}`);
  return Bip39.encode(Random.getBytes(bytes)).toString();
}

/** The mnemonic, normalised (lower case, single spaces); MnemonicError says what is wrong. */
export function checkMnemonic(mnemonic: string): string {
  if (typeof mnemonic !== "string") throw new MnemonicError("a mnemonic is a string of words");
  const words = mnemonic.trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (![12, 15, 18, 21, 24].includes(words.length)) {
    throw new MnemonicError(`a mnemonic has 12, 15, 18, 21 or 24 words; this one has ${words.length}`);
  }
  const unknown = words.filter((w) => !EnglishMnemonic.wordlist.includes(w));
  if (unknown.length) {
    throw new MnemonicError(
      `not in the English BIP-39 word list: ${unknown.slice(0, 3).map((w) => JSON.stringify(w)).join(", ")}`,
    );
  }
  const text = words.join(" ");
  try {
    new EnglishMnemonic(text);
  } catch {
    throw new MnemonicError("the mnemonic's checksum does not match (a word is wrong or out of order)");
  }
  return text;
}

export function isValidMnemonic(mnemonic: string): boolean {
  try {
    checkMnemonic(mnemonic);
    return true;
  } catch {
    return false;
  }
}

/** A secp256k1 key and its account. */
export class Key {
  readonly type: KeyType;
  /** 32-byte secret. */
  readonly privateKey: Uint8Array;
  /** 33-byte compressed public key. */
  readonly publicKey: Uint8Array;
  /** The 20 account bytes. */
  readonly address: Uint8Array;
  private signer?: Promise<DirectSecp256k1Wallet>;

  private constructor(type: KeyType, privateKey: Uint8Array) {
    let kp;
    try {
      kp = Secp256k1.makeKeypair(privateKey);
    } catch (e) {
      throw new KeyError(`not a secp256k1 private key: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.type = type;
    this.privateKey = Uint8Array.from(privateKey);
    this.publicKey = Secp256k1.compressPubkey(kp.pubkey);
    this.address =
      type === "secp256k1"
        ? new Ripemd160().update(new Sha256(this.publicKey).digest()).digest()
        : keccak_256(kp.pubkey.subarray(1)).subarray(12);
  }

  /** The Cosmos account (m/44'/118'/0'/0/0 unless `path` says otherwise) of a mnemonic. */
  static async fromMnemonic(mnemonic: string, options: { path?: string; passphrase?: string } = {}): Promise<Key> {
    return Key.derive("secp256k1", mnemonic, options.path ?? COSMOS_HD_PATH, options.passphrase);
  }

  /** The Ethereum account (m/44'/60'/0'/0/0, keccak address) of a mnemonic. */
  static async ethFromMnemonic(mnemonic: string, options: { path?: string; passphrase?: string } = {}): Promise<Key> {
    return Key.derive("eth_secp256k1", mnemonic, options.path ?? ETH_HD_PATH, options.passphrase);
  }

  private static async derive(type: KeyType, mnemonic: string, path: string, passphrase = ""): Promise<Key> {
    const text = checkMnemonic(mnemonic);
    let hdPath;
    try {
      hdPath = stringToPath(path);
    } catch (e) {
      throw new KeyError(`bad HD path ${JSON.stringify(path)}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const seed = await Bip39.mnemonicToSeed(new EnglishMnemonic(text), passphrase);
    return new Key(type, Slip10.derivePath(Slip10Curve.Secp256k1, seed, hdPath).privkey);
  }

  /** A key from its 32-byte secret (bytes or hex). */
  static fromPrivateKey(secret: Uint8Array | string, type: KeyType = "secp256k1"): Key {
    let bytes: Uint8Array;
    try {
      bytes = typeof secret === "string" ? fromHex(secret) : secret;
    } catch {
      throw new KeyError("a private key is 32 bytes, or 64 hex digits");
    }
    if (bytes.length !== 32) throw new KeyError(`a private key is 32 bytes, got ${bytes.length}`);
    return new Key(type, bytes);
  }

  /**
   * A devnet key from its public seed ("alice", "worker1", …), as
   * genesis/devnet.py derives them: sha256("vcoin-dev-key" + seed). Anyone can
   * derive these: for local devnets only, never for real funds.
   */
  static fromDevSeed(seed: string): Key {
    return new Key("secp256k1", new Sha256(utf8(`vcoin-dev-key${seed}`)).digest());
  }

  /** `vcoin1…` */
  get bech32(): string {
    return toBech32(this.address);
  }

  /** EIP-55 `0x…` of the same 20 bytes. */
  get hex(): string {
    return toChecksumHex(this.address);
  }

  get publicKeyHex(): string {
    return toHex(this.publicKey);
  }

  /** The CosmJS signer of a secp256k1 key (what signs its txs). */
  cosmjsSigner(): Promise<DirectSecp256k1Wallet> {
    if (this.type !== "secp256k1") {
      throw new KeyError("an eth_secp256k1 key signs over keccak256 (signDirect), not with CosmJS's secp256k1 wallet");
    }
    this.signer ??= DirectSecp256k1Wallet.fromKey(this.privateKey, "vcoin");
    return this.signer;
  }

  /** The Any type URL of this key's public key in a tx. */
  get pubkeyTypeUrl(): string {
    return PUBKEY_TYPE_URLS[this.type];
  }

  /** SIGN_MODE_DIRECT: CosmJS's signature over the SignDoc (secp256k1), or r‖s over
   * keccak256 of the SignDoc bytes (eth_secp256k1, as Ethermint signs). */
  async signDirect(doc: SignDoc): Promise<DirectSignResponse> {
    if (this.type === "secp256k1") return (await this.cosmjsSigner()).signDirect(this.bech32, doc);
    const sig = this.signKeccak(SignDoc.encode(doc).finish());
    return {
      signed: doc,
      signature: {
        pub_key: { type: "ethermint/PubKeyEthSecp256k1", value: toBase64(this.publicKey) },
        signature: toBase64(sig),
      },
    };
  }

  /** A 64-byte r‖s low-S signature over keccak256(message) (RFC 6979). */
  signKeccak(message: Uint8Array): Uint8Array {
    const sig = Secp256k1.createSignature(keccak_256(message), this.privateKey);
    return Uint8Array.from([...sig.r(32), ...sig.s(32)]);
  }

  /** EIP-191 personal_sign, as MetaMask signs: 65 bytes r‖s‖v (v = 27 + recovery id)
   * over keccak256("\x19Ethereum Signed Message:\n" + byte length + message). */
  personalSign(message: string | Uint8Array): Uint8Array {
    const data = typeof message === "string" ? utf8(message) : message;
    const head = utf8(`\x19Ethereum Signed Message:\n${data.length}`);
    const digest = keccak_256(Uint8Array.from([...head, ...data]));
    const sig = Secp256k1.createSignature(digest, this.privateKey);
    return Uint8Array.from([...sig.r(32), ...sig.s(32), 27 + sig.recovery]);
  }

  /** A 64-byte r‖s low-S signature over sha256(message), as the chain's
   * receipts and canary reveals are signed. */
  signBytes(message: Uint8Array): Uint8Array {
    const sig = Secp256k1.createSignature(new Sha256(message).digest(), this.privateKey);
    return Uint8Array.from([...sig.r(32), ...sig.s(32)]);
  }
}
