"""The eager PyTorch backend of `lightllm generate` for model and run folders. With
eager_signature.py, the only modules of light_llm.runtime that use torch; `import
light_llm.runtime` never loads them."""

from __future__ import annotations

from pathlib import Path

from light_llm.runtime.geometry import Geometry
from light_llm.runtime.text import TextGenerator


def load_eager(folder: str | Path) -> TextGenerator:
    from light_llm.model_folder import ModelFolderError, load_model_folder
    from light_llm.runtime.eager_signature import run_module, signature_module
    from light_llm.tokenizer import byte_tokenizer, load_tokenizer_file, special_tokens

    model_folder = load_model_folder(folder)
    model = model_folder.build(target="eager")
    geometry = Geometry.from_ir(model.ir)
    if model_folder.tokenizer_path is not None:
        tokenizer = load_tokenizer_file(model_folder.tokenizer_path)
    elif model_folder.spec.data.tokenizer == "byte":
        tokenizer = byte_tokenizer()
    else:
        raise ModelFolderError(f"{folder}: no tokenizer.json to turn the prompt into tokens")
    specials = special_tokens(tokenizer)
    return TextGenerator(run_module(signature_module(model, geometry), geometry), geometry,
                         tokenizer, specials.eos_id, specials.pad_id)
