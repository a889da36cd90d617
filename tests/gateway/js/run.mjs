// The official `openai` npm package against the VCoin gateway, as an app would use it:
// `new OpenAI({ baseURL, apiKey })`. Run by tests/gateway/test_openai_npm.py, which
// checks each answer against the chain's settled output.
//
//   GATEWAY_BASE_URL=http://127.0.0.1:8080/v1 GATEWAY_API_KEY=vk_… node run.mjs [steps…]
//
// Steps (default: all; they run at once): completion, stream, chat, embeddings,
// fine_tune. Prints one JSON object, what the client returned for each step (and
// `seconds`, when it was done), on its last line; exits 1 with the error on stderr when a
// call fails.
import OpenAI, { toFile } from "openai";

const client = new OpenAI({
  baseURL: process.env.GATEWAY_BASE_URL,
  apiKey: process.env.GATEWAY_API_KEY,
  maxRetries: 0,
  timeout: 300_000,
});

const FINE_TUNE_JSONL = [
  { prompt: "GPUs train ", completion: "adapters." },
  { text: "Workers stake VCN and run jobs." },
]
  .map((e) => JSON.stringify(e) + "\n")
  .join("");

const steps = {
  async completion() {
    const r = await client.completions.create({
      model: "tiny-lm",
      prompt: "The GPU marketplace",
      max_tokens: 8,
    });
    return { text: r.choices[0].text, usage: r.usage, vcoin: r.vcoin, object: r.object };
  },

  async stream() {
    const s = await client.completions.create({
      model: "tiny-lm",
      prompt: "Hello",
      max_tokens: 6,
      stream: true,
    });
    let text = "";
    let vcoin = null;
    let finish = null;
    let chunks = 0;
    for await (const chunk of s) {
      chunks += 1;
      for (const c of chunk.choices ?? []) {
        text += c.text ?? "";
        finish = c.finish_reason ?? finish;
      }
      vcoin = chunk.vcoin ?? vcoin;
    }
    return { text, vcoin, finish_reason: finish, chunks };
  },

  async chat() {
    const r = await client.chat.completions.create({
      model: "tiny-lm",
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: 6,
    });
    const m = r.choices[0].message;
    return { content: m.content, role: m.role, vcoin: r.vcoin, object: r.object };
  },

  async embeddings() {
    // no encoding_format: the package asks for base64 and decodes the float32s itself
    const r = await client.embeddings.create({
      model: "all-minilm-l6-v2",
      input: ["hello", "a GPU market"],
    });
    return { data: r.data.map((d) => Array.from(d.embedding)), vcoin: r.vcoin };
  },

  async fine_tune() {
    const file = await client.files.create({
      file: await toFile(Buffer.from(FINE_TUNE_JSONL), "train.jsonl"),
      purpose: "fine-tune",
    });
    const created = await client.fineTuning.jobs.create({
      model: "tiny-lm",
      training_file: file.id,
      seed: 5,
      // n_epochs and batch_size are OpenAI's; rank, alpha and max_length VCoin's
      hyperparameters: { n_epochs: 1, batch_size: 2, rank: 2, alpha: 4, max_length: 16 },
    });
    let job = created;
    const deadline = Date.now() + 300_000;
    while (!["succeeded", "failed", "cancelled"].includes(job.status)) {
      if (Date.now() > deadline) throw new Error(`${job.id} still ${job.status}`);
      await new Promise((r) => setTimeout(r, 1000));
      job = await client.fineTuning.jobs.retrieve(created.id);
    }
    const events = [];
    for await (const e of client.fineTuning.jobs.listEvents(job.id, { limit: 50 })) {
      events.push({ type: e.type, message: e.message, data: e.data ?? null });
    }
    return {
      file: { id: file.id, bytes: file.bytes, filename: file.filename },
      id: job.id,
      status: job.status,
      fine_tuned_model: job.fine_tuned_model,
      vcoin: job.vcoin,
      events,
      jsonl: FINE_TUNE_JSONL,
    };
  },
};

const chosen = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(steps);
for (const name of chosen) if (!(name in steps)) throw new Error(`no step ${name}`);
// all at once, as an app's concurrent requests: each is its own job on chain
const t0 = Date.now();
const results = await Promise.all(
  chosen.map(async (name) => ({ ...(await steps[name]()), seconds: (Date.now() - t0) / 1000 })),
);
console.log(JSON.stringify(Object.fromEntries(chosen.map((n, i) => [n, results[i]]))));
