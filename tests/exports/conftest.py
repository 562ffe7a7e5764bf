"""Session-scoped ONNX exports (see onnx_fixtures.py)."""

from onnx_fixtures import bidirectional_export, llama_export, llama_rotary_inside_export, sliding_export  # noqa: F401
