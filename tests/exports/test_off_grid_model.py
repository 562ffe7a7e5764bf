"""benchmarks/off_grid.py: a Llama with its norms folded and its residual stream rotated is
the same function (logits equal to fp32 rounding) with different weights: no unit norm
left unfolded, the LM head untied, every matrix moved."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

off_grid = SimpleNamespace(**runpy.run_path(str(Path(__file__).resolve().parents[2] / "benchmarks" / "off_grid.py")))


def _tiny_llama(folder: Path):
    config = transformers.LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("norm.weight"):
                parameter.uniform_(0.5, 1.5)  # norms that matter to fold
    model.save_pretrained(folder)
    return model


def test_the_folded_rotated_model_computes_the_same_logits_with_other_weights(tmp_path):
    original = _tiny_llama(tmp_path / "original")
    moved = transformers.AutoModelForCausalLM.from_pretrained(off_grid.off_grid_folder(tmp_path / "original",
                                                                                     tmp_path / "moved")).eval()
    ids = torch.tensor([[3, 14, 15, 92, 65, 35]])
    with torch.no_grad():
        expected, actual = original(ids).logits, moved(ids).logits
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=1e-4)
    assert not moved.config.tie_word_embeddings
    assert moved.lm_head.weight.data_ptr() != moved.model.embed_tokens.weight.data_ptr()
    norms = [parameter for name, parameter in moved.named_parameters() if name.endswith("norm.weight")]
    assert norms and all(torch.all(norm == 1.0) for norm in norms)
    before = dict(original.named_parameters())
    for name, parameter in moved.named_parameters():
        if parameter.dim() == 2:  # every matrix moved, by more than rounding
            assert (parameter - before.get(name, original.lm_head.weight)).abs().max() > 1e-2, name
