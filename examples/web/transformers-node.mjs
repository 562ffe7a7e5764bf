// Greedy generation with transformers.js (@huggingface/transformers) in Node from a
// light_llm ONNX export folder, loaded as it is: transformers.js reads config.json,
// generation_config.json, the tokenizer files and onnx/model.onnx (a hard link to the
// folder's model.onnx).
//
//   node transformers-node.mjs EXPORT_DIR [--prompt TEXT] [--max-new-tokens N] [--json]

import path from "node:path";
import { parseArgs } from "node:util";

import { AutoModelForCausalLM, AutoTokenizer, env } from "@huggingface/transformers";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    prompt: { type: "string", default: "def " },
    "max-new-tokens": { type: "string", default: "32" },
    json: { type: "boolean", default: false },
  },
});
if (positionals.length !== 1) {
  console.error("usage: node transformers-node.mjs EXPORT_DIR [--prompt TEXT] [--max-new-tokens N] [--json]");
  process.exit(2);
}

env.allowRemoteModels = false; // a local folder only: nothing is downloaded
env.localModelPath = "";
const folder = path.resolve(positionals[0]);
const tokenizer = await AutoTokenizer.from_pretrained(folder);
const model = await AutoModelForCausalLM.from_pretrained(folder, { dtype: "fp32" });

const inputs = tokenizer(values.prompt, { add_special_tokens: false });
const promptLength = inputs.input_ids.dims[1];
const output = await model.generate({ ...inputs, max_new_tokens: Number(values["max-new-tokens"]), do_sample: false });
const ids = output.tolist()[0].slice(promptLength).map(Number);
const text = tokenizer.decode(ids, { skip_special_tokens: true });
console.log(values.json ? JSON.stringify({ ids, text }) : values.prompt + text);
