"""The models doc's recipe for a new option, walked at test time: one entry in the option
table (options.py) and its module make a positional encoding or an FFN variant that the
spec accepts, lowering records, the cost model counts, and the model runs — with KV-cache
decoding equal to the full forward."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from light_llm.compiler.build import build
from light_llm.models.transformer import options
from light_llm.models.transformer.cost import model_cost
from light_llm.models.transformer.lower import lower
from light_llm.models.transformer.options import FFNVariant, PositionalEncoding
from light_llm.schemas.errors import SpecError
from light_llm.schemas.json_schema import spec_json_schema
from light_llm.schemas.load import load_spec
from light_llm.schemas.structure import _validator


class ScaledLearnedPositions(nn.Module):
    """A learned table added at half strength: reads positions, has parameters."""

    def __init__(self, ir, d_model: int):
        super().__init__()
        self.embedding = nn.Embedding(ir.max_seq_len, d_model)

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.embedding(position_ids)


class SquaredReLUFFN(nn.Module):
    """down(relu(up(x))²): two projections."""

    def __init__(self, ir):
        super().__init__()
        self.up_proj = nn.Linear(ir.d_model, ir.hidden_dim, bias=ir.bias)
        self.down_proj = nn.Linear(ir.hidden_dim, ir.d_model, bias=ir.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(torch.relu(self.up_proj(x)) ** 2)

    @property
    def output_projection(self) -> nn.Linear:
        return self.down_proj


@pytest.fixture()
def new_options():
    here = f"{__name__}"
    options.register(options.POSITIONAL_ENCODINGS, PositionalEncoding(
        "half_learned", "a learned table at half strength", reads_positions=True,
        embedding=f"{here}:ScaledLearnedPositions",
        embedding_parameters=lambda max_seq_len, d_model: max_seq_len * d_model,
    ))
    options.register(options.FFN_VARIANTS, FFNVariant(
        "relu2", "relu(up)² then down", f"{here}:SquaredReLUFFN", 2, activation="relu"
    ))
    _forget_schema()
    yield
    options.POSITIONAL_ENCODINGS.pop("half_learned")
    options.FFN_VARIANTS.pop("relu2")
    _forget_schema()


def _forget_schema() -> None:
    spec_json_schema.cache_clear()
    _validator.cache_clear()


SPEC = {
    "model": {
        "vocab_size": 40, "d_model": 16, "num_layers": 2, "max_seq_len": 24,
        "attention": {"num_heads": 2},
        "positional": {"encoding": "half_learned"},
        "ffn": {"variant": "relu2", "expansion_factor": 2.0},
    }
}


def test_unregistered_options_are_spec_errors():
    with pytest.raises(SpecError, match="half_learned"):
        load_spec(SPEC)


def test_a_new_encoding_and_ffn_variant_validate_lower_count_and_decode(new_options):
    spec = load_spec(SPEC)
    ir = lower(spec.model)
    assert ir.positional.uses_position_ids and ir.blocks[0].ffn.activation == "relu"
    model = build(ir, seed=0).eval()
    counted = sum(p.numel() for p in model.parameters())
    assert model_cost(ir).parameters == counted
    # The table's rules apply to the new entries: rope_base belongs to rope alone, and the
    # activation of a variant that fixes its own is refused.
    for section, key, value in (("positional", "rope_base", 5.0), ("ffn", "activation", "gelu")):
        bad = {"model": {**SPEC["model"], section: {**SPEC["model"][section], key: value}}}
        with pytest.raises(SpecError, match=key):
            load_spec(bad)

    tokens = torch.randint(0, 40, (2, 10))
    with torch.no_grad():
        full = model(tokens)
        past = model.empty_cache(2)
        steps = []
        for t in range(10):
            mask = torch.ones(2, t + 1, dtype=torch.long)
            logits, past = model.forward_with_cache(tokens[:, t:t + 1], mask, torch.full((2, 1), t), past)
            steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    # The positions matter: shifting them changes the logits.
    with torch.no_grad():
        shifted, _ = model.forward_with_cache(tokens, torch.ones(2, 10, dtype=torch.long),
                                              torch.arange(1, 11).expand(2, 10), model.empty_cache(2))
    assert not torch.allclose(shifted, full)
