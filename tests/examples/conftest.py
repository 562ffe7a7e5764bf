"""The example-app tests run on the ONNX exports of tests/exports/onnx_fixtures.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "exports"))

from onnx_fixtures import bidirectional_export, llama_export, sliding_export  # noqa: E402, F401
