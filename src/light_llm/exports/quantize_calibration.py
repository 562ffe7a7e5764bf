"""Calibration for GPTQ (exports/quantize_gptq.py): what each quantized MatMul's input looks
like on real text, as its Gram matrix H = XᵀX.

The text: a file the user names (`--quantize-calibration-text`), else the run's own
training split (RUN/data, as training read it), else the built-in calibration text: topics
of the Python language reference from `pydoc_data/topics.py` other than those of the
evaluation text (evaluate/text.py), so that no figure of `lightllm eval`, the quantized gate
or the benchmarks is measured on what the quantizer saw. CALIBRATION_WINDOWS windows of
CALIBRATION_LENGTH tokens (shortened to max_seq_len) are run through the fp32 graph in
onnxruntime, the inputs of the MatMuls added as outputs, one window at a time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from light_llm.runtime.geometry import Geometry

CALIBRATION_TOPICS = ("compound", "assignment", "import", "calls", "function", "class", "with")
CALIBRATION_WINDOWS = 8
CALIBRATION_LENGTH = 256
BUILTIN_CALIBRATION = "built-in calibration text (pydoc_data.topics: " + ", ".join(CALIBRATION_TOPICS) + ")"


def calibration_text() -> str:
    """The built-in calibration text (see the module's text)."""
    from light_llm.evaluate.text import topics_text

    return topics_text(CALIBRATION_TOPICS)


def calibration_windows(folder, geometry: Geometry, text: Path | None) -> tuple[np.ndarray, str]:
    """([windows, length] token ids, where they came from) for `folder` (a ModelFolder)."""
    from light_llm.evaluate.text import read_text
    from light_llm.evaluate.tokens import encode, folder_tokenizer
    from light_llm.evaluate.windows import split_windows

    tokenizer = folder_tokenizer(folder.path, folder.tokenizer_path, folder.spec.data.tokenizer)
    length = min(CALIBRATION_LENGTH, geometry.max_seq_len)
    if text is not None:
        ids, source = encode(read_text(Path(text)), tokenizer, geometry.vocab_size), str(text)
    else:
        ids, source = _training_tokens(Path(folder.path), folder.spec.data.validation_fraction, tokenizer), "training split"
        if ids is None:
            ids, source = encode(calibration_text(), tokenizer, geometry.vocab_size), BUILTIN_CALIBRATION
    return split_windows(ids, CALIBRATION_WINDOWS, length), source


def _training_tokens(run: Path, fraction: float, tokenizer) -> np.ndarray | None:
    """The training split of a run's token cache made by `tokenizer`; None where there is none."""
    from light_llm.tokenizer import tokenizer_fingerprint
    from light_llm.train.data import DataError, read_token_cache, split_tokens
    from light_llm.train.prepare import DATA_FOLDER

    cache = read_token_cache(run / DATA_FOLDER)
    if cache is None or cache[0]["tokenizer_fingerprint"] != tokenizer_fingerprint(tokenizer):
        return None
    try:
        return np.asarray(split_tokens(cache[1], fraction, 0).train, dtype=np.int64)
    except DataError:
        return None


def input_grams(model_path: Path, geometry: Geometry, windows: np.ndarray, inputs: list[str]) -> dict[str, np.ndarray]:
    """XᵀX [K, K] of each graph value in `inputs` (activations [..., K]) over the
    tokens of `windows`, from the fp32 graph `model_path` (its weights beside it); the
    products in torch on one thread (numpy's BLAS threads spin on a busy machine)."""
    import onnx
    import onnxruntime as ort
    import torch

    from light_llm.exports.quantize_gptq import one_torch_thread
    from light_llm.runtime.feeds import step_feeds

    model = onnx.load(str(model_path), load_external_data=False)
    declared = {output.name for output in model.graph.output}
    for name in inputs:
        if name not in declared:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    probe = model_path.with_name(f"{model_path.name}.calibration")
    onnx.save(model, str(probe))
    del model
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(str(probe), options, providers=["CPUExecutionProvider"])
    finally:
        probe.unlink(missing_ok=True)
    wanted = {item.name for item in session.get_inputs()}
    grams: dict[str, torch.Tensor] = {}
    for window in windows:
        tokens = window[None]
        feeds = step_feeds(geometry, tokens, np.ones_like(tokens), None)
        values = session.run(inputs, {name: value for name, value in feeds.items() if name in wanted})
        with one_torch_thread():  # float32: a few thousand tokens
            for name, value in zip(inputs, values):
                rows = torch.from_numpy(value.reshape(-1, value.shape[-1]))
                grams[name] = grams[name].addmm_(rows.T, rows) if name in grams else rows.T @ rows
    return {name: gram.numpy() for name, gram in grams.items()}
