// Greedy generation with transformers.js (@huggingface/transformers) in Node from a
// light_llm ONNX export folder, loaded as it is: transformers.js reads config.json,
// generation_config.json (its eos_token_id: every token that ends generation), the
// tokenizer files and onnx/model.onnx (a hard link to the folder's model.onnx). --chat
// formats one user message with the folder's chat template (tokenizer_config.json's
// chat_template) and prints the reply only.
//
//   node transformers-node.mjs EXPORT_DIR [--prompt TEXT | --chat MESSAGE] [--max-new-tokens N] [--json]

import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

import { AutoModelForCausalLM, AutoTokenizer, env } from "@huggingface/transformers";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    prompt: { type: "string" },
    chat: { type: "string" },
    "max-new-tokens": { type: "string", default: "32" },
    json: { type: "boolean", default: false },
  },
});
if (positionals.length !== 1 || (values.prompt !== undefined && values.chat !== undefined)) {
  console.error("usage: node transformers-node.mjs EXPORT_DIR [--prompt TEXT | --chat MESSAGE] [--max-new-tokens N] [--json]");
  process.exit(2);
}

env.allowRemoteModels = false; // a local folder only: nothing is downloaded
env.localModelPath = "";
const folder = path.resolve(positionals[0]);
if (!fs.existsSync(path.join(folder, "config.json"))) {
  // light_llm writes config.json only where the spec maps onto a Hugging Face architecture
  console.error(`error: ${folder} has no config.json: transformers.js loads only exports whose spec ` +
                "maps onto a Hugging Face architecture (docs/serving.md#transformersjs); " +
                "run this one with examples/node/generate.mjs (onnxruntime-node)");
  process.exit(1);
}
const tokenizer = await AutoTokenizer.from_pretrained(folder);
const model = await AutoModelForCausalLM.from_pretrained(folder, { dtype: "fp32" });

const chat = values.chat !== undefined;
const prompt = chat
  ? tokenizer.apply_chat_template([{ role: "user", content: values.chat }], { tokenize: false, add_generation_prompt: true })
  : (values.prompt ?? "def ");
const inputs = tokenizer(prompt, { add_special_tokens: false });
const promptLength = inputs.input_ids.dims[1];
const output = await model.generate({ ...inputs, max_new_tokens: Number(values["max-new-tokens"]), do_sample: false });
const ids = output.tolist()[0].slice(promptLength).map(Number);
const text = tokenizer.decode(ids, { skip_special_tokens: true });
console.log(values.json ? JSON.stringify({ ids, text }) : (chat ? "" : prompt) + text);
