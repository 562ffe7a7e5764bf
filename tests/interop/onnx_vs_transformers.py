"""The ONNX export of an imported model against the transformers model it came from, on
a batch whose second row is left-padded: the padded positions are left out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from light_llm.model_folder import ModelFolder
from light_llm.runtime.feeds import step_feeds
from light_llm.runtime.geometry import Geometry
from light_llm.runtime.session import OnnxSession

ATOL = 1e-4


def left_padded_prompts(vocab: int, length: int, padding: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    ids = np.random.default_rng(seed).integers(0, vocab, (2, length))
    mask = np.ones_like(ids)
    mask[1, :padding] = 0
    return ids, mask


def transformers_logits(model: torch.nn.Module, ids: np.ndarray, mask: np.ndarray,
                        positions: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                     position_ids=torch.from_numpy(positions)).logits.numpy()


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert np.abs(expected).max() > 0.1  # not a trivially small model
    np.testing.assert_allclose(actual, expected, atol=ATOL, rtol=ATOL)


def assert_onnx_equals_transformers(folder: ModelFolder, onnx_model: Path, reference: torch.nn.Module,
                                    ids: np.ndarray, mask: np.ndarray) -> None:
    feeds = step_feeds(Geometry.from_ir(folder.build().ir), ids, mask, None)
    logits = OnnxSession(onnx_model)(feeds)["logits"]
    expected = transformers_logits(reference, ids, mask, feeds["position_ids"])
    valid = mask.astype(bool)
    assert_close(logits[valid], expected[valid])
