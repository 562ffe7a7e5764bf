"""The evaluation tests run on the tiny ONNX exports of tests/exports/onnx_fixtures.py
(and block torch in a subprocess as tests/serve/serve_helpers.py does)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "exports"))
sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))

from onnx_fixtures import llama_export  # noqa: E402, F401
