"""The generation tests run on the ONNX exports of tests/exports/onnx_fixtures.py (their run folders)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "exports"))

from onnx_fixtures import llama_export  # noqa: E402, F401
