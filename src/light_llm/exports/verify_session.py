"""The onnxruntime session a parity check runs on. Without prepacking: onnxruntime then
computes with the memory-mapped external weights as they are, instead of copying every
fp32 MatMul weight into a packed buffer (the weights' size again). The packing changes
only the memory layout, not the arithmetic; `lightllm verify` and the runtime keep it."""

from __future__ import annotations

from pathlib import Path

from light_llm.runtime.session import OnnxSession


class VerificationSession(OnnxSession):
    def __init__(self, path: str | Path):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.add_session_config_entry("session.disable_prepacking", "1")
        options.enable_cpu_mem_arena = False  # activations freed after each call, not pooled
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.output_names = [node.name for node in self.session.get_outputs()]


def verification_session(path: Path, quantized: bool) -> OnnxSession:
    """Quantized graphs keep prepacking: MatMulNBits computes from its packed weights,
    which are small."""
    return OnnxSession(path) if quantized else VerificationSession(path)
