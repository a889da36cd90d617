// THE STAND-IN FOR METAMASK in tests/app/test_console_browser.py: a test EIP-1193 provider,
// injected as window.ethereum before the page loads (playwright's addInitScript, after
// `window.__testEthKey = "<64 hex>"` is set). It holds one known private key and signs
// legacy EIP-155 txs in the page with the console's own SDK bundle (keccak-256 and
// secp256k1 from console/vcoin-sdk.js), then forwards them, and every read, to the
// node's Ethereum JSON-RPC (the rpcUrls the page gives wallet_addEthereumChain).
// Like MetaMask it starts on another chain (0x1) and answers 4902 to a switch to a chain
// it was not given. Never a wallet for real keys.
(() => {
  const listeners = {};
  const chains = new Map([["0x1", null]]);
  let chainId = "0x1";
  let lib = null;
  const sdk = async () => (lib ??= await import(new URL("console/vcoin-sdk.js", location.href).href));
  const err = (code, message) => Object.assign(new Error(message), { code });

  const hexToBytes = (h) => {
    h = h.replace(/^0x/, "");
    if (h.length % 2) h = "0" + h;
    return Uint8Array.from(h.match(/../g) || [], (b) => parseInt(b, 16));
  };
  const concat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let i = 0;
    for (const p of parts) { out.set(p, i); i += p.length; }
    return out;
  };
  const intBytes = (n) => (BigInt(n) === 0n ? new Uint8Array() : hexToBytes(BigInt(n).toString(16)));
  const prefix = (len, off) => (len < 56 ? Uint8Array.of(off + len) : concat(Uint8Array.of(off + 55 + intBytes(len).length), intBytes(len)));
  const rlpItem = (b) => (b.length === 1 && b[0] < 0x80 ? b : concat(prefix(b.length, 0x80), b));
  const rlpList = (items) => { const body = concat(...items.map(rlpItem)); return concat(prefix(body.length, 0xc0), body); };
  const toHex = (b) => "0x" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

  async function address() {
    const s = await sdk();
    return s.Key.fromPrivateKey(window.__testEthKey, "eth_secp256k1").hex;
  }

  async function node(method, params) {
    const url = chains.get(chainId);
    if (!url) throw err(4901, `the test provider has no RPC for chain ${chainId}`);
    const r = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
    const body = await r.json();
    if (body.error) throw err(body.error.code ?? -32603, body.error.message);
    return body.result;
  }

  async function sendTransaction(tx) {
    const s = await sdk();
    const from = await address();
    const nonce = BigInt(await node("eth_getTransactionCount", [from, "pending"]));
    const gasPrice = BigInt(await node("eth_gasPrice", []));
    const call = { from, to: tx.to, value: tx.value || "0x0", data: tx.data || "0x" };
    const gas = BigInt(tx.gas || (await node("eth_estimateGas", [call])));
    const id = BigInt(chainId);
    const fields = [intBytes(nonce), intBytes(gasPrice), intBytes(gas), hexToBytes(tx.to || ""),
      intBytes(BigInt(tx.value || 0)), hexToBytes(tx.data || "0x")];
    const digest = s.keccak_256(rlpList([...fields, intBytes(id), new Uint8Array(), new Uint8Array()]));
    const sig = await s.Secp256k1.createSignature(digest, hexToBytes(window.__testEthKey));
    const v = id * 2n + 35n + BigInt(sig.recovery);
    const raw = rlpList([...fields, intBytes(v), intBytes(BigInt(toHex(sig.r()))), intBytes(BigInt(toHex(sig.s())))]);
    return node("eth_sendRawTransaction", [toHex(raw)]);
  }

  window.ethereum = {
    isMetaMask: false,
    isVcoinTestProvider: true,
    calls: [],
    async request({ method, params = [] }) {
      this.calls.push(method);
      switch (method) {
        case "eth_requestAccounts":
        case "eth_accounts":
          return [(await address()).toLowerCase()];
        case "eth_chainId":
          return chainId;
        case "wallet_addEthereumChain":
          chains.set(String(params[0].chainId).toLowerCase(), params[0].rpcUrls[0]);
          return null;
        case "wallet_switchEthereumChain": {
          const want = String(params[0].chainId).toLowerCase();
          if (!chains.has(want)) throw err(4902, `unrecognized chain ${want}`);
          chainId = want;
          (listeners.chainChanged || []).forEach((f) => f(want));
          return null;
        }
        case "eth_sendTransaction":
          return sendTransaction(params[0]);
        default:
          return node(method, params);
      }
    },
    on(event, f) { (listeners[event] ||= []).push(f); },
    removeListener(event, f) { listeners[event] = (listeners[event] || []).filter((g) => g !== f); },
  };
})();
