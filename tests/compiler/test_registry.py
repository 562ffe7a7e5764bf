"""The one registry: a second model family (tests/compiler/mlp_family, with config.py,
model.py and __init__.py) registers in one place and runs through lower → build."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from light_llm.compiler.build import build
from light_llm.models import registry
from light_llm.models.registry import FAMILIES, ModelFamily, family, register


@pytest.fixture()
def mlp_family():
    entry = register(ModelFamily(
        name="mlp_lm",
        config="mlp_family.config:MLPLanguageModelConfig",
        lower="mlp_family.config:lower",
        module="mlp_family.model:MLPLanguageModel",
    ))
    yield entry
    FAMILIES.pop("mlp_lm")


def test_second_family_runs_through_the_compiler(mlp_family):
    config = family("mlp_lm").config_class.model_validate({"vocab_size": 23, "context": 3})
    ir = family("mlp_lm").lower_config(config, vocab_size=None, target="eager")
    model = build(ir, seed=0)
    assert type(model).__name__ == "MLPLanguageModel"
    tokens = torch.randint(0, 23, (2, 9))
    logits = model(tokens)
    assert logits.shape == (2, 9, 23)
    # A window of 3: the logits at position 5 ignore tokens 0..2 and depend on token 3.
    changed = tokens.clone()
    changed[:, 2] = (changed[:, 2] + 1) % 23
    assert torch.equal(model(changed)[:, 5], logits[:, 5])
    changed[:, 3] = (changed[:, 3] + 1) % 23
    assert not torch.equal(model(changed)[:, 5], logits[:, 5])
    # Trainable like the Transformer: a few steps of next-token loss decrease it.
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        loss = F.cross_entropy(model(tokens)[:, :-1].reshape(-1, 23), tokens[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.7


def test_seeded_build_of_another_family_is_reproducible(mlp_family):
    ir = family("mlp_lm").lower_config(
        family("mlp_lm").config_class(vocab_size=11), vocab_size=None, target="eager"
    )
    first, second = build(ir, seed=3), build(ir, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters()))


def test_a_family_registers_once(mlp_family):
    with pytest.raises(ValueError, match="already registered"):
        register(mlp_family)


def test_unknown_family_names_the_registered_ones():
    with pytest.raises(ValueError, match=r"unknown model family 'mamba'; registered: \['mixer', 'transformer'\]"):
        registry.family("mamba")
