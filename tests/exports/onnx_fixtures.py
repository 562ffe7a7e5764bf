"""Shared ONNX export folders for the ONNX and runtime tests, built once per session
(per xdist worker): a llama-style causal model, a sliding-window one, a bidirectional one,
each exported in the default (fused) form, and the llama-style one with rotary inside
GroupQueryAttention (min_onnxruntime 1.32). LLAMA and SLIDING use 2 query heads, so that
head_dim is 16, a size onnxruntime's GroupQueryAttention takes: their graphs are fused.
conftest.py files import the fixtures from here."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch_targets_matrix import ROWS, merged, model_folder

from light_llm.exports.onnx import export_onnx

LLAMA = merged(ROWS["mha-rope-scaled-swiglu-rms-pre-tied"], {"attention": {"num_heads": 2}})
SLIDING = merged(ROWS["gqa-alibi-window-geglu-ln-post-parallel-bias"],
                 {"attention": {"num_heads": 2, "num_kv_heads": 1}})
BIDIRECTIONAL = ROWS["complex-rope-bidirectional-silu-post"]


def exported(root: Path, model: dict, **options) -> tuple[Path, Path]:
    """(model folder, export folder) for `model`, exported with `options`."""
    folder = model_folder(root / "run", model)
    export_onnx(folder, root / "onnx", **options)
    return root / "run", root / "onnx"


@pytest.fixture(scope="session")
def llama_export(tmp_path_factory) -> tuple[Path, Path]:
    return exported(tmp_path_factory.mktemp("llama"), LLAMA)


@pytest.fixture(scope="session")
def llama_rotary_inside_export(tmp_path_factory) -> tuple[Path, Path]:
    return exported(tmp_path_factory.mktemp("llama-1.32"), LLAMA, min_onnxruntime="1.32")


@pytest.fixture(scope="session")
def sliding_export(tmp_path_factory) -> tuple[Path, Path]:
    return exported(tmp_path_factory.mktemp("sliding"), SLIDING)


@pytest.fixture(scope="session")
def bidirectional_export(tmp_path_factory) -> tuple[Path, Path]:
    return exported(tmp_path_factory.mktemp("bidirectional"), BIDIRECTIONAL)
