"""transformers' own model of a GGUF file (`from_pretrained(folder, gguf_file=name)`, which
dequantizes every tensor to fp32 with llama.cpp's numpy dequantizers): the reference an
import and an export of a GGUF file are verified against."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path


def transformers_model(path: Path):
    """The fp32 model in eval mode; transformers' own exceptions pass through. Its
    per-tensor progress bar (a plain tqdm, which disable_progress_bar does not reach) is
    kept off the console."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    with contextlib.redirect_stderr(io.StringIO()):
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    return model.eval()
