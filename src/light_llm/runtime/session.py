"""onnxruntime sessions that speak the contract: named inputs in, named outputs out,
extra inputs dropped (a graph without position_ids ignores them).

`OnnxSession` returns every output as numpy (the parity checks read the presents).
`BoundSession` (`OnnxSession.bound()`, what generate_steps runs on) decodes through
onnxruntime's IO binding: the presents stay onnxruntime values (OrtValue) that the next
step binds as its past, so the KV cache is never copied into numpy and back; only the
logits come out as numpy. A graph whose attention is GroupQueryAttention (the fused
export: `past_present_share_buffer` in its genai_config.json) can also write each
present into its past's own buffer (`into`, see runtime/kv_buffers.py): then a step
copies only the new keys and values, not the past.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class OnnxSession:
    def __init__(self, path: str | Path | bytes, threads: int | None = None):
        """`path`: a model file, or a serialized graph (e.g. runtime/last_logits.py's)."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        model = path if isinstance(path, bytes) else str(path)
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.output_names = [node.name for node in self.session.get_outputs()]

    def __call__(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = self.session.run(None, {name: feeds[name] for name in self.input_names})
        return dict(zip(self.output_names, results))

    def bound(self) -> "BoundSession":
        return BoundSession(self)


class BoundSession:
    """The same onnxruntime session with IO binding. Inputs: numpy arrays or the OrtValues
    of an earlier call's outputs. Outputs: logits as numpy, every other output as an
    OrtValue (a `past` the next call binds as is).

    One binding serves every call: an OrtValue bound by the call before (an in-place KV
    buffer, bound as input and as output) stays bound, so a decode step binds only its
    new tokens, mask and positions; binding every buffer again at each step made an int4
    decode step ~10 % slower."""

    def __init__(self, onnx_session: OnnxSession):
        self.session = onnx_session.session
        self.input_names, self.output_names = onnx_session.input_names, onnx_session.output_names
        self.binding = self.session.io_binding()
        self.bound_inputs: dict[str, object] = {}  # name → the OrtValue bound there (kept alive)
        self.bound_outputs: dict[str, object] = {}

    def __call__(self, feeds: dict, into: dict | None = None) -> dict:
        """`into`: output name → the OrtValue to write that output into (a present into its
        past's buffer, which the graph fills in place); those outputs are not returned anew."""
        into = into or {}
        for name in self.input_names:
            value = feeds[name]
            if isinstance(value, np.ndarray):
                self.binding.bind_cpu_input(name, np.ascontiguousarray(value))
                self.bound_inputs.pop(name, None)
            elif self.bound_inputs.get(name) is not value:
                self.binding.bind_ortvalue_input(name, value)
                self.bound_inputs[name] = value
        for name in self.output_names:
            if name not in into:
                self.binding.bind_output(name, "cpu")
                self.bound_outputs.pop(name, None)
            elif self.bound_outputs.get(name) is not into[name]:
                self.binding.bind_ortvalue_output(name, into[name])
                self.bound_outputs[name] = into[name]
        self.session.run_with_iobinding(self.binding)
        results = self.binding.get_outputs()
        outputs = {name: into[name] if name in into else results[index] for index, name in enumerate(self.output_names)}
        outputs["logits"] = outputs["logits"].numpy()
        return outputs

    def release(self) -> None:
        """Lets go of the OrtValues the binding holds (a finished batch's KV buffers)."""
        self.binding.clear_binding_inputs()
        self.binding.clear_binding_outputs()
        self.bound_inputs.clear()
        self.bound_outputs.clear()


def decoding_run(run):
    """What to decode with: `run.bound()` where the backend has one (OnnxSession: the KV
    cache stays inside onnxruntime between steps), else `run` itself (light_llm.generation's eager torch)."""
    return run.bound() if hasattr(run, "bound") else run


def as_numpy(value) -> np.ndarray:
    """A numpy array of a step's output, whether it came back as numpy or as an OrtValue
    of BoundSession (copied out of onnxruntime only here)."""
    return value if isinstance(value, np.ndarray) else value.numpy()

