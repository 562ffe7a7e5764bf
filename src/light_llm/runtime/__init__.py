"""Generation with onnxruntime, numpy and tokenizers only: importable without torch.

    from light_llm.runtime import load_export, Sampling
    model = load_export("exports/onnx")
    print(model.generate("def main", max_new_tokens=32, sampling=Sampling(temperature=0.8, seed=0)))
    for piece in model.stream("import os"): print(piece, end="")
"""

from light_llm.runtime.exported import load_export
from light_llm.runtime.generator import generate_ids, generate_steps, left_pad
from light_llm.runtime.geometry import Geometry
from light_llm.runtime.sampling import Sampling, next_tokens
from light_llm.runtime.session import OnnxSession
from light_llm.runtime.text import TextGenerator

__all__ = [
    "Geometry", "OnnxSession", "Sampling", "TextGenerator", "generate_ids", "generate_steps",
    "left_pad", "load_export", "next_tokens",
]
