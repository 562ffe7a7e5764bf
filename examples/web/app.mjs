// Generation in the browser from a light_llm ONNX export folder: onnxruntime-web (wasm
// backend, which runs the default fused export's com.microsoft ops too) and the folder's
// tokenizer.json read by @huggingface/tokenizers. One graph serves prefill and decode:
// the first call gets the whole prompt and empty past_key_values, every later call one
// token and the previous call's present.* (docs/export-contract.md).
//
// The export folder's URL: ?model=URL (default ./model/ , where `lightllm serve --web`
// serves it). The page needs no server code: any static server over this folder works.

import * as ort from "./node_modules/onnxruntime-web/dist/ort.wasm.min.mjs";
import { Tokenizer } from "./node_modules/@huggingface/tokenizers/dist/tokenizers.min.mjs";

const PAST = "past_key_values.";
const PRESENT = "present.";

ort.env.wasm.wasmPaths = new URL("./node_modules/onnxruntime-web/dist/", import.meta.url).href;
ort.env.wasm.numThreads = 1; // threads need a cross-origin-isolated page

const $ = (id) => document.getElementById(id);
const modelUrl = new URL(new URLSearchParams(location.search).get("model") ?? "./model/", location.href);
if (!modelUrl.pathname.endsWith("/")) modelUrl.pathname += "/";

async function fetchJson(name) {
  const response = await fetch(new URL(name, modelUrl));
  if (!response.ok) throw new Error(`${new URL(name, modelUrl)}: HTTP ${response.status}`);
  return response.json();
}

/** The session, tokenizer, end token ids (every token that ends a turn) and context length of an export folder. */
async function loadExport() {
  const manifest = await fetchJson("light_llm.json");
  const tokenizer = new Tokenizer(await fetchJson("tokenizer.json"), await fetchJson("tokenizer_config.json"));
  const graph = await fetch(new URL(manifest.model_file, modelUrl));
  if (!graph.ok) throw new Error(`${manifest.model_file}: HTTP ${graph.status}`);
  const session = await ort.InferenceSession.create(new Uint8Array(await graph.arrayBuffer()),
                                                    { executionProviders: ["wasm"] });
  const eos = manifest.special_tokens?.eos_id ?? null;
  return { session, tokenizer, endIds: manifest.special_tokens?.end_ids ?? (eos === null ? [] : [eos]),
           maxSeqLen: manifest.geometry.max_seq_len, geometry: manifest.geometry };
}

const int64 = (values, dims) => new ort.Tensor("int64", BigInt64Array.from(values, BigInt), dims);

function emptyPast(model) {
  const { num_layers: layers, num_kv_heads: heads, head_dim: dim } = model.geometry;
  const past = {};
  for (let i = 0; i < layers; i++) {
    for (const part of ["key", "value"]) {
      past[`${PAST}${i}.${part}`] = new ort.Tensor("float32", new Float32Array(0), [1, heads, 0, dim]);
    }
  }
  return past;
}

function presentsAsPast(outputs) {
  const past = {};
  for (const [name, tensor] of Object.entries(outputs)) {
    if (name.startsWith(PRESENT)) past[PAST + name.slice(PRESENT.length)] = tensor;
  }
  return past;
}

/** Greedy (temperature 0, the first largest logit like numpy) or sampled next token. */
function pick(logits, temperature) {
  const [, sequenceLength, vocabSize] = logits.dims;
  const row = logits.data.subarray((sequenceLength - 1) * vocabSize, sequenceLength * vocabSize);
  let best = 0;
  for (let id = 1; id < vocabSize; id++) if (row[id] > row[best]) best = id;
  if (temperature <= 0) return best;
  const weights = Array.from(row, (value) => Math.exp((value - row[best]) / temperature));
  let left = Math.random() * weights.reduce((a, b) => a + b, 0);
  for (let id = 0; id < vocabSize; id++) if ((left -= weights[id]) <= 0) return id;
  return best;
}

/** Yields the next token ids, stopping after an end token or at the context's end. */
async function* generate(model, promptIds, maxNewTokens, temperature) {
  const { session } = model;
  const usesPositions = session.inputNames.includes("position_ids");
  const cached = session.inputNames.some((name) => name.startsWith(PAST));
  const steps = Math.min(maxNewTokens, model.maxSeqLen - promptIds.length);
  let past = cached ? emptyPast(model) : {};
  let pastLength = 0;
  let ids = promptIds;
  for (let step = 0; step < steps; step++) {
    const total = pastLength + ids.length;
    const feeds = { input_ids: int64(ids, [1, ids.length]), attention_mask: int64(new Array(total).fill(1), [1, total]), ...past };
    if (usesPositions) feeds.position_ids = int64(ids.map((_, i) => pastLength + i), [1, ids.length]);
    const outputs = await session.run(feeds);
    const token = pick(outputs.logits, temperature);
    yield token;
    if (model.endIds.includes(token)) return;
    if (cached) {
      past = presentsAsPast(outputs);
      pastLength = total;
      ids = [token];
    } else {
      ids = [...ids, token];
    }
  }
}

async function run(model) {
  const prompt = $("prompt").value;
  const output = $("output");
  const promptIds = model.tokenizer.encode(prompt, { add_special_tokens: false }).ids;
  const ids = [];
  output.textContent = prompt;
  output.dataset.ids = "";
  $("status").textContent = "generating";
  $("generate").disabled = true;
  try {
    for await (const token of generate(model, promptIds, Number($("max-new-tokens").value), Number($("temperature").value))) {
      ids.push(token);
      const text = model.tokenizer.decode(ids, { skip_special_tokens: true });
      if (!text.endsWith("\ufffd")) output.textContent = prompt + text; // whole characters only
    }
    output.textContent = prompt + model.tokenizer.decode(ids, { skip_special_tokens: true });
    output.dataset.ids = JSON.stringify(ids);
    $("status").textContent = "done";
  } catch (error) {
    $("status").textContent = `error: ${error.message}`;
  } finally {
    $("generate").disabled = false;
  }
}

$("model").textContent = modelUrl.href;
loadExport().then(
  (model) => {
    $("generate").addEventListener("click", () => run(model));
    $("generate").disabled = false;
    $("status").textContent = "ready";
  },
  (error) => { $("status").textContent = `error: ${error.message}`; },
);
