/**
 * Amounts. The chain counts avcn (10^-18 VCN) as integers that may pass
 * 2^64, so amounts are bigints here and decimal strings on the wire. People
 * write "1.5VCN" or "1500000000000000000avcn"; both parse to the same avcn.
 */
import { AmountError } from "./errors.js";

export const DENOM = "avcn";
export const DISPLAY_DENOM = "VCN";
export const DECIMALS = 18;
export const MAX_AMOUNT = (1n << 256n) - 1n;
const UNIT = 10n ** BigInt(DECIMALS);

/** A coin as the chain's protobuf carries it: a denom and a decimal string. */
export interface Coin {
  denom: string;
  amount: string;
}

const COIN_RE = /^([0-9]{1,78}(?:\.[0-9]{1,78})?)\s*([a-zA-Z][a-zA-Z0-9/:._-]{0,127})$/;

/**
 * avcn of an amount: a bigint or a whole number of avcn, or text ("1.5VCN",
 * "1500000000000000000avcn", "2 VCN"). A bare number string is avcn.
 */
export function parseAmount(input: string | bigint | number): bigint {
  let n: bigint;
  if (typeof input === "bigint") {
    n = input;
  } else if (typeof input === "number") {
    if (!Number.isSafeInteger(input)) {
      throw new AmountError(`${input} is not a safe whole number of avcn; pass a bigint or a string such as "1.5VCN"`);
    }
    n = BigInt(input);
  } else if (typeof input === "string") {
    n = parseText(input.trim());
  } else {
    throw new AmountError(`an amount is a bigint or text such as "1.5VCN", not ${typeof input}`);
  }
  if (n < 0n) throw new AmountError(`amount ${n} is negative`);
  if (n > MAX_AMOUNT) throw new AmountError(`amount ${n} is over 2^256-1 avcn`);
  return n;
}

function parseText(text: string): bigint {
  if (/^[0-9]{1,78}$/.test(text)) return BigInt(text);
  const m = COIN_RE.exec(text);
  if (!m) {
    throw new AmountError(
      `cannot read ${JSON.stringify(text.slice(0, 100))}; write e.g. 1.5VCN or 1000avcn (at most 78 digits on either side of the point)`,
    );
  }
  const num = m[1]!;
  const denom = m[2]!;
  if (denom.toUpperCase() === DISPLAY_DENOM) {
    const [whole, frac = ""] = num.split(".");
    if (frac.length > DECIMALS) {
      throw new AmountError(`${text}: VCN has at most ${DECIMALS} decimals (${frac.length} given)`);
    }
    return BigInt(whole!) * UNIT + BigInt(frac.padEnd(DECIMALS, "0"));
  }
  if (denom === DENOM) {
    if (num.includes(".")) throw new AmountError(`${text}: avcn are whole numbers (1 VCN = 10^18 avcn)`);
    return BigInt(num);
  }
  throw new AmountError(`${text}: unknown denom ${JSON.stringify(denom)}; use VCN or avcn`);
}

/** A positive amount as an avcn Coin. */
export function coin(input: string | bigint | number): Coin {
  const n = parseAmount(input);
  if (n === 0n) throw new AmountError("amount is zero; send a positive amount");
  return { denom: DENOM, amount: n.toString() };
}

/** avcn as VCN text without trailing zeros: 1500000000000000000n -> "1.5VCN". */
export function formatVcn(avcn: bigint | string): string {
  const n = typeof avcn === "bigint" ? avcn : BigInt(avcn);
  const whole = n / UNIT;
  const frac = (n % UNIT).toString().padStart(DECIMALS, "0").replace(/0+$/, "");
  return `${whole}${frac ? `.${frac}` : ""}${DISPLAY_DENOM}`;
}
