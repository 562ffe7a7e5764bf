"""The runtime tests run on the ONNX exports of tests/exports/onnx_fixtures.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "exports"))

from onnx_fixtures import llama_export, llama_rotary_inside_export, bidirectional_export  # noqa: E402, F401
