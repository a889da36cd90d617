/// <reference types="node" />
// Keys, addresses and amounts: known vectors, CosmJS as a second implementation, bad input.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { DirectSecp256k1HdWallet, makeCosmoshubPath } from "@cosmjs/proto-signing";
import { fromBech32 as cosmjsFromBech32, toBech32 as cosmjsToBech32 } from "@cosmjs/encoding";

import {
  AddressError,
  AmountError,
  Key,
  MnemonicError,
  addressForms,
  checkMnemonic,
  coin,
  formatVcn,
  generateMnemonic,
  isAddress,
  parseAddress,
  parseAmount,
  toBech32,
  toChecksumHex,
  toEthAddress,
  toHex,
  toVcoinAddress,
} from "../src/index.js";

const ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

describe("keys", () => {
  it("derives the Cosmos account of a mnemonic as CosmJS's HD wallet does", async () => {
    const key = await Key.fromMnemonic(ABANDON);
    const wallet = await DirectSecp256k1HdWallet.fromMnemonic(ABANDON, { prefix: "vcoin", hdPaths: [makeCosmoshubPath(0)] });
    const [acc] = await wallet.getAccounts();
    assert.equal(key.bech32, acc!.address);
    assert.deepEqual(key.publicKey, acc!.pubkey);
    // the well-known cosmoshub address of this mnemonic, under the vcoin prefix
    assert.equal(key.bech32, cosmjsToBech32("vcoin", cosmjsFromBech32("cosmos19rl4cm2hmr8afy4kldpxz3fka4jguq0auqdal4", 90).data));
  });

  it("derives the Ethereum account at m/44'/60'/0'/0/0 with its keccak address", async () => {
    const eth = await Key.ethFromMnemonic(ABANDON);
    assert.equal(eth.type, "eth_secp256k1");
    assert.equal(eth.hex, "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"); // MetaMask's first account of this mnemonic
    assert.equal(toEthAddress(eth.bech32), eth.hex);
    assert.throws(() => eth.cosmjsSigner(), /eth_secp256k1/); // it signs over keccak256, not through CosmJS
  });

  it("prints both forms of one account", async () => {
    const key = await Key.fromMnemonic(ABANDON);
    const forms = addressForms(key.bech32);
    assert.equal(forms.hex, key.hex);
    assert.deepEqual(parseAddress(forms.hex), key.address);
    assert.deepEqual(parseAddress(forms.bech32), key.address);
    assert.deepEqual(parseAddress(forms.hex.toLowerCase()), key.address); // no checksum: accepted
  });

  it("generates mnemonics that import", async () => {
    const m = generateMnemonic();
    assert.equal(m.split(" ").length, 24);
    assert.equal(checkMnemonic(m), m);
    assert.equal(generateMnemonic(12).split(" ").length, 12);
    const a = await Key.fromMnemonic(m);
    const b = await Key.fromMnemonic(`  ${m.toUpperCase().replace(/ /g, "   ")} `);
    assert.equal(a.bech32, b.bech32);
  });

  it("derives the devnet keys as genesis/devnet.py does", () => {
    // PrivateKey.from_seed(b"alice"): sha256("vcoin-dev-key" + "alice")
    assert.equal(Key.fromDevSeed("alice").bech32, "vcoin1l0stxljezfgwtggpdv8qur4ekrqpk3s7z3txth");
  });

  it("refuses bad mnemonics with a reason", async () => {
    const words = ABANDON.split(" ");
    await assert.rejects(Key.fromMnemonic([...words.slice(0, 11), "abandon"].join(" ")), (e: Error) => e instanceof MnemonicError && /checksum/.test(e.message));
    await assert.rejects(Key.fromMnemonic([...words.slice(0, 11), "abandonn"].join(" ")), (e: Error) => e instanceof MnemonicError && /abandonn/.test(e.message));
    await assert.rejects(Key.fromMnemonic(words.slice(0, 11).join(" ")), (e: Error) => e instanceof MnemonicError && /11/.test(e.message));
    await assert.rejects(Key.fromMnemonic(""), MnemonicError);
  });

  it("refuses bad private keys", () => {
    assert.throws(() => Key.fromPrivateKey("00".repeat(32)), /secp256k1/);
    assert.throws(() => Key.fromPrivateKey("abcd"), /32 bytes/);
    assert.throws(() => Key.fromPrivateKey("zz".repeat(32)), /hex/);
  });
});

describe("addresses", () => {
  it("encodes bech32 as CosmJS does", () => {
    for (let i = 0; i < 50; i++) {
      const bytes = Uint8Array.from({ length: 20 }, (_, j) => (i * 37 + j * 11) & 0xff);
      const text = toBech32(bytes);
      assert.equal(text, cosmjsToBech32("vcoin", bytes));
      assert.deepEqual(parseAddress(text), bytes);
      assert.deepEqual(parseAddress(text.toUpperCase()), bytes);
    }
  });

  it("writes EIP-55 as the EIP's own examples", () => {
    for (const a of [
      "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
      "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
      "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
      "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ]) {
      assert.equal(toChecksumHex(parseAddress(a)), a);
      assert.equal(toEthAddress(toVcoinAddress(a)), a);
    }
  });

  it("refuses a bad checksum in either form, saying which", () => {
    const good = "vcoin1l0stxljezfgwtggpdv8qur4ekrqpk3s7z3txth";
    assert.throws(() => parseAddress(`${good.slice(0, -1)}q`), (e: Error) => e instanceof AddressError && /bech32 checksum/.test(e.message));
    const hex = toEthAddress(good);
    const i = [...hex].findIndex((c, j) => j >= 2 && /[a-fA-F]/.test(c));
    const flipped = hex.slice(0, i) + (hex[i] === hex[i]!.toUpperCase() ? hex[i]!.toLowerCase() : hex[i]!.toUpperCase()) + hex.slice(i + 1);
    assert.throws(() => parseAddress(flipped), (e: Error) => e instanceof AddressError && /EIP-55 checksum/.test(e.message));
  });

  it("refuses other bad addresses clearly", () => {
    const cases: [string, RegExp][] = [
      ["", /empty/],
      ["cosmos19rl4cm2hmr8afy4kldpxz3fka4jguq0auqdal4", /prefix "cosmos"; expected "vcoin"/],
      ["vcoin1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnrql8a", /checksum/],
      [toBech32(new Uint8Array(32)), /encodes 32 bytes/],
      ["VCOIN1l0stxljezfgwtggpdv8qur4ekrqpk3s7z3txth", /mixes upper and lower/],
      ["vcoin1l0stxljezfgwtggpdv8qur4ekrqpk3s7z3txtb", /not a bech32 character|checksum/],
      ["0x1234", /4 hex digits/],
      ["0xZZ5aeb6053f3e94c9b9a09f33669435e7ef1beaed", /not hex/],
      ["vcoin1" + "q".repeat(100), /90/],
    ];
    for (const [text, re] of cases) {
      assert.throws(() => parseAddress(text), (e: Error) => e instanceof AddressError && re.test(e.message), text);
      assert.equal(isAddress(text), false);
    }
  });
});

describe("amounts", () => {
  it("reads VCN and avcn alike", () => {
    assert.equal(parseAmount("1.5VCN"), 1_500_000_000_000_000_000n);
    assert.equal(parseAmount("1500000000000000000avcn"), 1_500_000_000_000_000_000n);
    assert.equal(parseAmount("0.000000000000000001VCN"), 1n);
    assert.equal(parseAmount("1500"), 1500n);
    assert.equal(parseAmount(7n), 7n);
    assert.deepEqual(coin("2VCN"), { denom: "avcn", amount: "2000000000000000000" });
    assert.equal(formatVcn(1_500_000_000_000_000_000n), "1.5VCN");
    assert.equal(formatVcn("1"), "0.000000000000000001VCN");
  });

  it("refuses amounts it cannot read exactly", () => {
    const cases: [unknown, RegExp][] = [
      ["1.0000000000000000001VCN", /at most 18 decimals/],
      ["1.5avcn", /whole numbers/],
      ["-1VCN", /cannot read/],
      ["1.5ETH", /unknown denom/],
      ["abc", /cannot read/],
      [1.5, /safe whole number/],
      [-1n, /negative/],
      [1n << 256n, /2\^256-1/],
    ];
    for (const [input, re] of cases) {
      assert.throws(() => parseAmount(input as string), (e: Error) => e instanceof AmountError && re.test(e.message), String(input));
    }
    assert.throws(() => coin("0VCN"), /zero/);
  });

  it("hex helpers round-trip", () => {
    assert.equal(toHex(Uint8Array.from([0, 15, 255])), "000fff");
  });
});
