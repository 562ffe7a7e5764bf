"""Session fixtures of the real pretrained model (smollm2.py): made once per test run and
shared by the xdist workers (under the run's common temporary folder, behind a file
lock), since each costs tens of seconds on 2 cores.

- `smollm2_hf`: the fp32 Hugging Face folder (cached across runs, see smollm2.py);
- `smollm2_model`: that folder imported by `lightllm import-hf` (verified against transformers);
- `smollm2_onnx`: its fp32 ONNX export (default, fused form);
- `smollm2_onnx_int4`: its int4 ONNX export (the grid fit keeps the GGUF's codes);
- `smollm2_onnx_int4_fp32`: the same at fp32 accuracy (MatMulNBits' activations in fp32);
- `smollm2_onnx_int4_rounded`: the same with the grid fit off, every weight rounded anew by
  the symmetric method (no calibration run; the export the gate's limits were set on).
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from smollm2 import hf_folder  # noqa: E402


def made_once(tmp_path_factory, name: str, make: Callable[[Path], None]) -> Path:
    """`root/name`, made by `make(path)` by the first worker that asks; the others wait."""
    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent  # common to the workers of one run
    target = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / f"{name}.done").exists():
            make(target)
            (root / f"{name}.done").touch()
    return target


@pytest.fixture(scope="session")
def smollm2_hf() -> Path:
    return hf_folder()


@pytest.fixture(scope="session")
def smollm2_model(tmp_path_factory, smollm2_hf) -> Path:
    from light_llm.import_hf import import_hf

    return made_once(tmp_path_factory, "smollm2-model", lambda out: import_hf(smollm2_hf, out))


@pytest.fixture(scope="session")
def smollm2_onnx(tmp_path_factory, smollm2_model) -> Path:
    return made_once(tmp_path_factory, "smollm2-onnx", lambda out: _export(smollm2_model, out))


@pytest.fixture(scope="session")
def smollm2_onnx_int4(tmp_path_factory, smollm2_model) -> Path:
    return made_once(tmp_path_factory, "smollm2-onnx-int4", lambda out: _export(smollm2_model, out, quantize="int4"))


@pytest.fixture(scope="session")
def smollm2_onnx_int4_fp32(tmp_path_factory, smollm2_model) -> Path:
    return made_once(tmp_path_factory, "smollm2-onnx-int4-fp32",
                     lambda out: _export(smollm2_model, out, quantize="int4", quantize_accuracy="fp32"))


@pytest.fixture(scope="session")
def smollm2_onnx_int4_rounded(tmp_path_factory, smollm2_model) -> Path:
    """int4 rounded anew (symmetric, the grid fit off)."""
    return made_once(tmp_path_factory, "smollm2-onnx-int4-rounded",
                     lambda out: _export(smollm2_model, out, quantize="int4", quantize_grid_fit=False,
                                                 quantize_method="symmetric"))


def _export(model: Path, out: Path, **options) -> None:
    from light_llm.exports.onnx import export_onnx
    from light_llm.model_folder import load_model_folder

    export_onnx(load_model_folder(model), out, **options)
