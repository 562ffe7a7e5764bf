#!/usr/bin/env bash
# The quick start: a virtual environment in .venv with light_llm's full form (the torch
# extra, and the test extra so that the README's test command runs next), then
# `lightllm demo` on the built-in default.
# Arguments are passed to `lightllm demo` (see `lightllm demo --help`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

PYTHON="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -x .venv/bin/python ]; then
    echo "creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv .venv
fi
echo "installing torch 2.13.0 (CPU build) and light_llm into .venv"
# torch first and pinned to its CPU build (.ci/install-torch: from PyTorch's CPU index
# unless the configured indexes offer it); an unpinned torch would pull a several-GB CUDA
# build. Then light_llm's full form (the torch extra) and its test extra.
.ci/install-torch .venv/bin/python
.venv/bin/python -m pip install --quiet -e '.[torch,test]'

.venv/bin/lightllm demo "$@"
