#!/usr/bin/env bash
# The quick start: a virtual environment in .venv with light_llm (and its test extra, so
# that the README's test command runs next), then `lightllm demo` on the built-in default.
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
# torch first and pinned: this version is a CPU wheel; an unpinned torch would pull a
# several-GB CUDA build.
.venv/bin/python -m pip install --quiet torch==2.13.0
.venv/bin/python -m pip install --quiet -e '.[test]'

.venv/bin/lightllm demo "$@"
