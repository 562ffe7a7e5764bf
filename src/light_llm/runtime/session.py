"""An onnxruntime session that speaks the contract: named numpy inputs in, named
numpy outputs out, extra inputs dropped (a graph without position_ids ignores them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class OnnxSession:
    def __init__(self, path: str | Path, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.output_names = [node.name for node in self.session.get_outputs()]

    def __call__(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = self.session.run(None, {name: feeds[name] for name in self.input_names})
        return dict(zip(self.output_names, results))
