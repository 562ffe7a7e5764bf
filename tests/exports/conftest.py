"""Session-scoped ONNX exports (see onnx_fixtures.py)."""

from onnx_fixtures import bidirectional_export, llama_export, sliding_export  # noqa: F401
