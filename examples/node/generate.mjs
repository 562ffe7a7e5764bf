// Greedy text generation from a light_llm ONNX export folder with onnxruntime-node and
// the folder's tokenizer.json (docs/export-contract.md). One graph serves prefill and
// decode: the first call gets the whole prompt and empty past_key_values, every later
// call one token and the previous call's present.* as past_key_values.*. Input names and
// cache shapes are read from the session, so any export folder works unchanged.
// Generation stops at any of the model's end tokens (generation_config.json's eos_token_id,
// one id or a list); --chat formats one user message with the folder's chat template
// (chat_template.jinja, rendered by @huggingface/jinja as transformers.js does) and prints
// the reply only.
//
//   node generate.mjs EXPORT_DIR [--prompt TEXT | --chat MESSAGE] [--max-new-tokens N] [--json]

import { readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import ort from "onnxruntime-node";

const PAST = "past_key_values.";
const PRESENT = "present.";
// Without a chat template: one `role: content` line per message (as light_llm's own).
const PLAIN_TEMPLATE =
  "{% for message in messages %}{{ message.role }}: {{ message.content }}\n{% endfor %}" +
  "{% if add_generation_prompt %}assistant:{% endif %}";

async function readJson(file) {
  return JSON.parse(await readFile(file, "utf8"));
}

async function readOptional(file, read) {
  try {
    return await read(file);
  } catch (error) {
    if (error.code === "ENOENT") return null;
    throw error;
  }
}

/** Every token that ends generation: generation_config.json's eos_token_id (one id or a
 * list), else the manifest's end-of-text id. */
function endIds(generationConfig, manifest) {
  const eos = generationConfig?.eos_token_id ?? manifest.special_tokens?.eos_id ?? null;
  return eos === null ? [] : [eos].flat();
}

/** The chat template: chat_template.jinja, else tokenizer_config.json's (a string, or the
 * `default` of a list of named templates), else the plain one. */
async function chatTemplate(folder, tokenizerConfig) {
  const file = await readOptional(path.join(folder, "chat_template.jinja"), (name) => readFile(name, "utf8"));
  let source = file ?? tokenizerConfig.chat_template ?? PLAIN_TEMPLATE;
  if (Array.isArray(source)) source = source.find((item) => item.name === "default")?.template ?? PLAIN_TEMPLATE;
  return source;
}

function tokenText(token) {
  return (typeof token === "object" && token !== null ? token.content : token) ?? "";
}

/** The session, tokenizer, end token ids, chat template and context length of an export folder. */
export async function loadExport(folder) {
  const manifest = await readJson(path.join(folder, "light_llm.json"));
  const tokenizerConfig = await readJson(path.join(folder, "tokenizer_config.json"));
  const tokenizer = new Tokenizer(await readJson(path.join(folder, "tokenizer.json")), tokenizerConfig);
  const generationConfig = await readOptional(path.join(folder, "generation_config.json"), readJson);
  const session = await ort.InferenceSession.create(path.join(folder, manifest.model_file));
  return {
    session,
    tokenizer,
    tokenizerConfig,
    endIds: endIds(generationConfig, manifest),
    chatTemplate: await chatTemplate(folder, tokenizerConfig),
    maxSeqLen: manifest.geometry.max_seq_len,
  };
}

/** The prompt of the reply to `messages`, as the model's chat template formats it. */
export function chatPrompt(model, messages) {
  const specials = Object.fromEntries(
    ["bos_token", "eos_token", "unk_token", "pad_token"].map((name) => [name, tokenText(model.tokenizerConfig[name])]),
  );
  return new Template(model.chatTemplate).render({ messages, add_generation_prompt: true, ...specials });
}

function int64Tensor(values, dims) {
  return new ort.Tensor("int64", BigInt64Array.from(values, BigInt), dims);
}

/** past_key_values.{i}.key/value of length 0: [1, num_kv_heads, 0, head_dim] (static in the graph). */
function emptyPast(session) {
  const past = {};
  for (const input of session.inputMetadata) {
    if (input.name.startsWith(PAST)) {
      const [, numKvHeads, , headDim] = input.shape;
      past[input.name] = new ort.Tensor("float32", new Float32Array(0), [1, numKvHeads, 0, headDim]);
    }
  }
  return past;
}

/** present.{i}.key/value of this call → past_key_values.{i}.key/value of the next. */
function presentsAsPast(outputs) {
  const past = {};
  for (const [name, tensor] of Object.entries(outputs)) {
    if (name.startsWith(PRESENT)) past[PAST + name.slice(PRESENT.length)] = tensor;
  }
  return past;
}

/** The id of the largest logit at the last position (the first one on ties, like numpy). */
function argmaxLast(logits) {
  const [, sequenceLength, vocabSize] = logits.dims;
  const row = logits.data.subarray((sequenceLength - 1) * vocabSize, sequenceLength * vocabSize);
  let best = 0;
  for (let id = 1; id < vocabSize; id++) if (row[id] > row[best]) best = id;
  return best;
}

/** Yields greedy token ids after `promptIds`, stopping after an end token or at max_seq_len. */
export async function* greedy(model, promptIds, maxNewTokens) {
  const { session } = model;
  const usesPositions = session.inputNames.includes("position_ids");
  const cached = session.inputNames.some((name) => name.startsWith(PAST));
  const steps = Math.min(maxNewTokens, model.maxSeqLen - promptIds.length);
  let past = cached ? emptyPast(session) : {};
  let pastLength = 0;
  let ids = promptIds;
  for (let step = 0; step < steps; step++) {
    const total = pastLength + ids.length;
    const feeds = {
      input_ids: int64Tensor(ids, [1, ids.length]),
      attention_mask: int64Tensor(new Array(total).fill(1), [1, total]),
      ...past,
    };
    if (usesPositions) feeds.position_ids = int64Tensor(ids.map((_, i) => pastLength + i), [1, ids.length]);
    const outputs = await session.run(feeds);
    const token = argmaxLast(outputs.logits);
    yield token;
    if (model.endIds.includes(token)) return;
    if (cached) {
      past = presentsAsPast(outputs);
      pastLength = total;
      ids = [token];
    } else {
      ids = [...ids, token]; // no cache (bidirectional graphs): run the whole sequence again
    }
  }
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      prompt: { type: "string" },
      chat: { type: "string" },
      "max-new-tokens": { type: "string", default: "64" },
      json: { type: "boolean", default: false },
    },
  });
  if (positionals.length !== 1 || (values.prompt !== undefined && values.chat !== undefined)) {
    console.error("usage: node generate.mjs EXPORT_DIR [--prompt TEXT | --chat MESSAGE] [--max-new-tokens N] [--json]");
    process.exit(2);
  }
  const model = await loadExport(positionals[0]);
  const chat = values.chat !== undefined;
  const prompt = chat ? chatPrompt(model, [{ role: "user", content: values.chat }]) : (values.prompt ?? "def ");
  const promptIds = model.tokenizer.encode(prompt, { add_special_tokens: false }).ids;
  const ids = [];
  let shown = "";
  if (!values.json && !chat) process.stdout.write(prompt);
  for await (const token of greedy(model, promptIds, Number(values["max-new-tokens"]))) {
    ids.push(token);
    const text = model.tokenizer.decode(ids, { skip_special_tokens: true });
    if (!values.json && !text.endsWith("\ufffd")) {
      process.stdout.write(text.slice(shown.length)); // stream whole characters only
      shown = text;
    }
  }
  const text = model.tokenizer.decode(ids, { skip_special_tokens: true });
  if (values.json) console.log(JSON.stringify({ prompt_ids: promptIds, ids, text }));
  else process.stdout.write(text.slice(shown.length) + "\n");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(`error: ${error.message}`);
    process.exit(1);
  });
}
