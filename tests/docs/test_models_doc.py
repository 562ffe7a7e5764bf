"""docs/models.md: its example runs and prints what it shows, and the numbers it quotes
(FFN sizes, auto KV heads, ALiBi slopes, complex == real attention) are the code's."""

from __future__ import annotations

import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from light_llm.models.transformer.lower import ffn_hidden_dim
from light_llm.models.transformer import Transformer, TransformerConfig
from light_llm.models.transformer.config import AttentionConfig
from light_llm.models.transformer.positional import alibi_slopes

DOC = Path(__file__).parents[2] / "docs" / "models.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def flat(doc: str) -> str:
    """The doc with its line breaks folded into spaces."""
    return " ".join(doc.split())


def test_quick_instantiation_prints_what_the_doc_shows(doc: str) -> None:
    code = re.search(r"### Quick instantiation\n\n```python\n(.*?)```", doc, re.DOTALL).group(1)
    shown = re.search(r"prints first\n\n```text\n(.*?)```", doc, re.DOTALL).group(1)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(shown)


def test_ffn_hidden_sizes(flat: str) -> None:
    for d_model in (128, 256, 512):
        assert f"{d_model} → {ffn_hidden_dim(d_model, 2.6667)}" in flat
    assert f"128 with 4.0 → {ffn_hidden_dim(128, 4.0)}" in flat


def test_auto_kv_heads(flat: str) -> None:
    kv = {heads: AttentionConfig(num_heads=heads).resolved_num_kv_heads() for heads in (4, 8, 12, 16)}
    assert f"8 heads → {kv[8]} KV heads, 12 → {kv[12]}, 16 → {kv[16]}, 4 or fewer → {kv[4]}" in flat
    assert all(AttentionConfig(num_heads=heads).resolved_num_kv_heads() == 1 for heads in (1, 2, 3))


def test_alibi_slopes(flat: str) -> None:
    def fractions(heads: int) -> str:
        return ", ".join(f"1/{int(1 / s)}" if s < 1 else str(s) for s in alibi_slopes(heads).tolist())

    assert f"4 heads: {fractions(4)}" in flat
    six = [Fraction(s).limit_denominator(1024) for s in alibi_slopes(6).tolist()]
    assert "6 heads: " + ", ".join(str(f) for f in six) in flat


def test_complex_attention_equals_mha_with_the_same_weights(flat: str) -> None:
    assert "a `complex` model and an `mha` model with the same weights give the same logits" in flat
    common = dict(vocab_size=50, d_model=64, num_layers=2)
    complex_model = Transformer(TransformerConfig(**common, attention={"variant": "complex", "num_heads": 4}))
    real_model = Transformer(TransformerConfig(**common, attention={"variant": "mha", "num_heads": 4}))
    real_model.load_state_dict(complex_model.state_dict())
    assert complex_model.ir.blocks[0].attention.kernel == "complex_eager"
    tokens = torch.randint(0, 50, (2, 20))
    with torch.no_grad():
        assert torch.allclose(complex_model(tokens), real_model(tokens), atol=1e-5)


def test_gguf_section_names_the_code_s_architectures_types_and_splits(flat: str) -> None:
    from light_llm.interop.gguf.architectures import ARCHITECTURES
    from light_llm.interop.gguf.dequantize import dequantizable_types
    from light_llm.interop.gguf.pre_tokenizers import SPLITS

    section = flat[flat.index("## Importing a GGUF file"):flat.index("## Adding a new model")]
    assert f"supported: {', '.join(ARCHITECTURES)}" in section
    named = set(re.findall(r"\b(?:[QT]Q?\d_(?:\d|K)|IQ\d?_?\w*|B?F(?:16|32)|MXFP4)\b", section))
    # types written as ranges (Q2_K…Q6_K) or families ("the IQ types") stand for the rest
    assert {"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q6_K", "MXFP4"} <= named
    assert named - {"IQ"} <= set(dequantizable_types())
    splits = re.search(r"the split that `tokenizer.ggml.pre` names \((.*?)\)\.", section).group(1)
    for name in re.findall(r"`([a-z0-9-]+)`", splits):
        assert name in SPLITS, name
