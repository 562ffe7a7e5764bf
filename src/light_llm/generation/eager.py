"""The eager PyTorch backend of `lightllm generate` and `lightllm serve` for model and run
folders: the runtime's generator (light_llm.runtime) driving the model through the
contract's signature (eager_signature.py).

Models with a KV cache decode through `CompiledDecode`: the plain eager path, and a
compiled decode step once it pays (`compile`: "auto", "on" or "off"; compiled_decode.py)."""

from __future__ import annotations

from pathlib import Path

from light_llm.runtime.geometry import Geometry
from light_llm.runtime.text import TextGenerator


def load_eager(folder: str | Path, compile: str = "auto") -> TextGenerator:
    from light_llm.chat_template import read_chat_files, token_ids
    from light_llm.model_folder import ModelFolderError, load_model_folder
    from light_llm.generation.compiled_decode import CompiledDecode, check_compile_mode
    from light_llm.generation.eager_signature import run_module, signature_module
    from light_llm.tokenizer import byte_tokenizer, load_tokenizer_file

    check_compile_mode(compile)
    model_folder = load_model_folder(folder)
    model = model_folder.build(target="eager")
    geometry = Geometry.from_ir(model.ir)
    if model_folder.tokenizer_path is not None:
        tokenizer = load_tokenizer_file(model_folder.tokenizer_path)
    elif model_folder.spec.data.tokenizer == "byte":
        tokenizer = byte_tokenizer()
    else:
        raise ModelFolderError(f"{folder}: no tokenizer.json to turn the prompt into tokens")
    ids = token_ids(read_chat_files(model_folder.path, tokenizer), tokenizer)
    signature = signature_module(model, geometry)
    cached = geometry.cached and hasattr(model, "forward_with_cache")
    run = CompiledDecode(signature, geometry, compile) if cached else run_module(signature, geometry)
    return TextGenerator(run, geometry, tokenizer, ids.eos_id, ids.pad_id, ids.end_ids)
