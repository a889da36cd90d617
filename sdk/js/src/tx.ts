/**
 * Build and sign Cosmos txs: SIGN_MODE_DIRECT, one signer (secp256k1, or
 * eth_secp256k1 under Ethermint's pubkey type URL, signing over keccak256), as
 * chain/tx/sign.py does (the same bytes for the same inputs: the chain takes
 * only the canonical encoding, so a tx has one hash).
 */
import { PubKey } from "cosmjs-types/cosmos/crypto/secp256k1/keys";
import { SignMode } from "cosmjs-types/cosmos/tx/signing/v1beta1/signing";
import { AuthInfo, SignDoc, TxBody, TxRaw } from "cosmjs-types/cosmos/tx/v1beta1/tx";
import { Sha256 } from "@cosmjs/crypto";

import { DENOM } from "./amount.js";
import { fromBase64, toHex } from "./bytes.js";
import type { Key } from "./keys.js";
import type { EncodedMsg } from "./msgs.js";

export const DEFAULT_GAS = 200_000n;

export interface SignOptions {
  chainId: string;
  accountNumber: bigint | number;
  sequence: bigint | number;
  gasLimit?: bigint | number;
  /** Fee in avcn; 0 sends no fee coin at all. */
  feeAmount: bigint | number | string;
  memo?: string;
  timeoutHeight?: bigint | number;
}

export interface SignedTx {
  /** TxRaw bytes: what is broadcast. */
  txBytes: Uint8Array;
  /** sha256 of txBytes, upper-case hex: the hash the node indexes the tx by. */
  hash: string;
  bodyBytes: Uint8Array;
  authInfoBytes: Uint8Array;
  /** The SignDoc bytes that were signed. */
  signDocBytes: Uint8Array;
  signature: Uint8Array;
}

export function txHash(txBytes: Uint8Array): string {
  return toHex(new Sha256(txBytes).digest()).toUpperCase();
}

export function makeBodyBytes(msgs: EncodedMsg[], memo = "", timeoutHeight: bigint | number = 0n): Uint8Array {
  return TxBody.encode(
    TxBody.fromPartial({ messages: msgs, memo, timeoutHeight: BigInt(timeoutHeight) }),
  ).finish();
}

export function makeAuthInfoBytes(
  publicKey: Uint8Array,
  sequence: bigint | number,
  gasLimit: bigint | number,
  feeAmount: bigint | number | string,
  pubkeyTypeUrl = "/cosmos.crypto.secp256k1.PubKey",
): Uint8Array {
  const fee = BigInt(feeAmount);
  return AuthInfo.encode(
    AuthInfo.fromPartial({
      signerInfos: [
        {
          publicKey: {
            typeUrl: pubkeyTypeUrl,
            value: PubKey.encode({ key: publicKey }).finish(),
          },
          modeInfo: { single: { mode: SignMode.SIGN_MODE_DIRECT } },
          sequence: BigInt(sequence),
        },
      ],
      fee: { amount: fee > 0n ? [{ denom: DENOM, amount: fee.toString() }] : [], gasLimit: BigInt(gasLimit) },
    }),
  ).finish();
}

/** Sign `msgs` with `key` (a secp256k1 key through CosmJS's DirectSecp256k1Wallet, an
 * eth_secp256k1 key over keccak256) and return the TxRaw. */
export async function signTx(key: Key, msgs: EncodedMsg[], o: SignOptions): Promise<SignedTx> {
  const bodyBytes = makeBodyBytes(msgs, o.memo ?? "", o.timeoutHeight ?? 0n);
  const authInfoBytes = makeAuthInfoBytes(
    key.publicKey,
    o.sequence,
    o.gasLimit ?? DEFAULT_GAS,
    o.feeAmount,
    key.pubkeyTypeUrl,
  );
  const doc = SignDoc.fromPartial({
    bodyBytes,
    authInfoBytes,
    chainId: o.chainId,
    accountNumber: BigInt(o.accountNumber),
  });
  const signed = await key.signDirect(doc);
  const signature = fromBase64(signed.signature.signature);
  const txBytes = TxRaw.encode(
    TxRaw.fromPartial({ bodyBytes: signed.signed.bodyBytes, authInfoBytes: signed.signed.authInfoBytes, signatures: [signature] }),
  ).finish();
  return {
    txBytes,
    hash: txHash(txBytes),
    bodyBytes,
    authInfoBytes,
    signDocBytes: SignDoc.encode(doc).finish(),
    signature,
  };
}
