/**
 * Account addresses. An account is 20 bytes, written two ways: bech32
 * `vcoin1…` (Cosmos wallets, the node's JSON) and EIP-55 `0x…` (Ethereum
 * wallets). Both forms name the same bytes; either is accepted wherever an
 * address is, and a bad checksum in either form is refused with a message
 * that says which.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";

import { fromHex, toHex, utf8 } from "./bytes.js";
import { AddressError } from "./errors.js";

export const BECH32_PREFIX = "vcoin";
export const ADDRESS_LENGTH = 20;
const BECH32_MAX_LENGTH = 90; // BIP-173

const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk = (chk ^ GEN[i]!) >>> 0;
  }
  return chk;
}

function hrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (const c of hrp) out.push(c.charCodeAt(0) >> 5);
  out.push(0);
  for (const c of hrp) out.push(c.charCodeAt(0) & 31);
  return out;
}

function convertBits(data: ArrayLike<number>, from: number, to: number, pad: boolean): number[] | null {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const maxv = (1 << to) - 1;
  for (let i = 0; i < data.length; i++) {
    acc = (acc << from) | data[i]!;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & maxv);
    }
    acc &= (1 << bits) - 1;
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & maxv);
  } else if (bits >= from || ((acc << (to - bits)) & maxv) !== 0) {
    return null;
  }
  return out;
}

/** bech32 text of `bytes` under `prefix` (lower case). */
export function toBech32(bytes: Uint8Array, prefix: string = BECH32_PREFIX): string {
  const data = convertBits(bytes, 8, 5, true)!;
  const pm = polymod([...hrpExpand(prefix), ...data, 0, 0, 0, 0, 0, 0]) ^ 1;
  let cs = "";
  for (let i = 0; i < 6; i++) cs += CHARSET[(pm >>> (5 * (5 - i))) & 31];
  return `${prefix}1${data.map((d) => CHARSET[d]).join("")}${cs}`;
}

/** The bytes of a bech32 address with `prefix`; AddressError says what is wrong. */
export function fromBech32(text: string, prefix: string = BECH32_PREFIX): Uint8Array {
  if (text.length > BECH32_MAX_LENGTH) {
    throw new AddressError(`address is ${text.length} characters; bech32 allows ${BECH32_MAX_LENGTH}`);
  }
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) {
    throw new AddressError(`${show(text)} mixes upper and lower case; bech32 addresses are one case`);
  }
  const low = text.toLowerCase();
  const pos = low.lastIndexOf("1");
  if (pos < 1 || pos + 7 > low.length) {
    throw new AddressError(`${show(text)} is not a bech32 address (expected ${prefix}1…)`);
  }
  const hrp = low.slice(0, pos);
  const data: number[] = [];
  for (const c of low.slice(pos + 1)) {
    const v = CHARSET.indexOf(c);
    if (v < 0) {
      throw new AddressError(`${show(text)} has ${JSON.stringify(c)}, which is not a bech32 character`);
    }
    data.push(v);
  }
  if (polymod([...hrpExpand(hrp), ...data]) !== 1) {
    throw new AddressError(`${show(text)} has a bad bech32 checksum (a typo?)`);
  }
  if (hrp !== prefix) {
    throw new AddressError(`address ${show(text)} has prefix ${JSON.stringify(hrp)}; expected ${JSON.stringify(prefix)}`);
  }
  const bytes = convertBits(data.slice(0, -6), 5, 8, false);
  if (bytes === null) throw new AddressError(`${show(text)} has non-zero padding bits`);
  if (bytes.length !== ADDRESS_LENGTH) {
    throw new AddressError(`address ${show(text)} encodes ${bytes.length} bytes; an account address is ${ADDRESS_LENGTH}`);
  }
  return Uint8Array.from(bytes);
}

/** EIP-55 mixed-case checksum text of a 20-byte address. */
export function toChecksumHex(bytes: Uint8Array): string {
  if (bytes.length !== ADDRESS_LENGTH) throw new AddressError(`an address is ${ADDRESS_LENGTH} bytes, got ${bytes.length}`);
  const hex = toHex(bytes);
  const h = toHex(keccak_256(utf8(hex)));
  let out = "0x";
  for (let i = 0; i < hex.length; i++) {
    out += parseInt(h[i]!, 16) >= 8 ? hex[i]!.toUpperCase() : hex[i]!;
  }
  return out;
}

/** The bytes of a `0x…` address. All-lower or all-upper hex carries no
 * checksum (EIP-55) and is accepted; mixed case must match the checksum. */
export function fromHexAddress(text: string): Uint8Array {
  if (!/^0[xX]/.test(text)) throw new AddressError(`${show(text)} does not start with 0x`);
  const body = text.slice(2);
  if (!/^[0-9a-fA-F]*$/.test(body)) throw new AddressError(`${show(text)} has characters that are not hex digits`);
  if (body.length !== 2 * ADDRESS_LENGTH) {
    throw new AddressError(`${show(text)} has ${body.length} hex digits; an address has ${2 * ADDRESS_LENGTH}`);
  }
  const bytes = fromHex(body);
  const mixed = body !== body.toLowerCase() && body !== body.toUpperCase();
  if (mixed && toChecksumHex(bytes).slice(2) !== body) {
    throw new AddressError(`${show(text)} has a bad EIP-55 checksum (a typo?); expected ${toChecksumHex(bytes)}`);
  }
  return bytes;
}

/** The 20 bytes of an address in either form. */
export function parseAddress(text: string): Uint8Array {
  if (typeof text !== "string" || text.length === 0) throw new AddressError("empty address");
  if (/^0[xX]/.test(text)) return fromHexAddress(text);
  return fromBech32(text);
}

/** Whether `text` is a valid address in either form. */
export function isAddress(text: string): boolean {
  try {
    parseAddress(text);
    return true;
  } catch {
    return false;
  }
}

/** The `vcoin1…` form of an address given in either form (what messages carry). */
export function toVcoinAddress(text: string | Uint8Array): string {
  return toBech32(typeof text === "string" ? parseAddress(text) : text);
}

/** The EIP-55 `0x…` form of an address given in either form. */
export function toEthAddress(text: string | Uint8Array): string {
  return toChecksumHex(typeof text === "string" ? parseAddress(text) : text);
}

/** Both forms of one account. */
export interface AddressForms {
  bech32: string;
  hex: string;
}

export function addressForms(text: string | Uint8Array): AddressForms {
  const bytes = typeof text === "string" ? parseAddress(text) : text;
  return { bech32: toBech32(bytes), hex: toChecksumHex(bytes) };
}

function show(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text);
}
