"""The logits of one window [1, L] for each kind of model. Only `export_logits` is
torch-free; the others import torch (and transformers) when called."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from light_llm.evaluate.errors import EvalError
from light_llm.evaluate.scores import Logits
from light_llm.runtime.feeds import step_feeds
from light_llm.runtime.generator import Run
from light_llm.runtime.geometry import Geometry


def export_logits(run: Run, geometry: Geometry) -> Logits:
    """A contract backend (an onnxruntime session): one prefill from an empty cache."""

    def logits(tokens: np.ndarray) -> np.ndarray:
        return run(step_feeds(geometry, tokens, np.ones_like(tokens), None))["logits"]

    return logits


def eager_logits(model) -> Logits:
    """A light_llm module: `model(tokens)`, the plain forward."""
    import torch

    def logits(tokens: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(tokens)).float().numpy()

    return logits


def transformers_logits(folder: Path) -> Logits:
    """The Hugging Face folder's own model in transformers, fp32."""
    import torch

    try:
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging

        logging.disable_progress_bar()  # stdout and stderr keep the figures only
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    except Exception as error:  # transformers raises many types; its first line says what
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise EvalError(f"{folder}: transformers cannot load it: {first[:160]}") from None

    def logits(tokens: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(input_ids=torch.from_numpy(tokens)).logits.float().numpy()

    return logits
