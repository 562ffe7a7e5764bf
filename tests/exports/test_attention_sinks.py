"""`attention.sinks` (gpt-oss): the eager kernel equals transformers' gpt-oss attention,
a very negative sink gives back plain attention, KV-cache decoding equals the full
forward, and both ONNX forms (GroupQueryAttention's head_sink, standard ops) pass the
parity gate — which fails when the graph's sink logits are not the model's."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch_targets_matrix import TINY, merged, model_folder

from light_llm.compiler.build import build
from light_llm.compiler.pipeline import lower_spec
from light_llm.compiler.resolve import resolve_spec
from light_llm.exports.onnx import export_onnx
from light_llm.exports.result import ParityError
from light_llm.exports.onnx_lowering.weights import Weights
from light_llm.model_folder import load_model_folder, save_model_folder
from light_llm.models.transformer.sinks import SinkKernel
from light_llm.models.transformer.summary import describe_attention
from light_llm.schemas.spec import Spec

# Three query heads on one KV head, head_dim 16 (GroupQueryAttention's multiple), a window
# on every other layer, soft-capped scores: sinks beside the options they meet.
SINKS = {"d_model": 48, "num_layers": 2, "attention": {
    "variant": "mqa", "num_heads": 3, "head_dim": 16, "sinks": True, "mask_type": "sliding_window",
    "window_size": 4, "layer_pattern": ["sliding_window", "causal"], "logit_softcap": 3.0}}


def with_random_sinks(root, model: dict):
    """A model folder whose sink logits are far from their zero init."""
    folder = model_folder(root, model)
    module = folder.build()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for block in module.blocks:
            block.attention.kernel.sinks.normal_(0.0, 2.0, generator=generator)
    save_model_folder(root, folder.spec, module)
    return load_model_folder(root)


def test_kernel_equals_transformers_gpt_oss_attention():
    from transformers.models.gpt_oss.modeling_gpt_oss import eager_attention_forward

    block = lower_spec(model_folder_spec(SINKS)).blocks[1]
    assert describe_attention(block).endswith(" sinks") and block.attention.kernel == "sinks"  # the compile report
    ir = block.attention
    kernel = SinkKernel(ir).eval()
    torch.nn.init.normal_(kernel.sinks, std=2.0)
    q, k, v = torch.randn(2, 3, 5, 16), torch.randn(2, 1, 5, 16), torch.randn(2, 1, 5, 16)
    mask = torch.full((5, 5), float("-inf")).triu(1)[None, None]
    hf_module = SimpleNamespace(num_key_value_groups=3, sinks=kernel.sinks, training=False)
    expected, _ = eager_attention_forward(hf_module, q, k, v, mask, scaling=ir.score_scale)
    no_cap = SinkKernel(ir.__class__(**{**ir.__dict__, "logit_softcap": None}))
    no_cap.load_state_dict(kernel.state_dict())
    with torch.no_grad():
        assert torch.allclose(no_cap(q, k, v, mask), expected.transpose(1, 2), atol=1e-6)
        assert not torch.allclose(kernel(q, k, v, mask), expected.transpose(1, 2), atol=1e-3)  # the cap acts


def model_folder_spec(model: dict):
    return resolve_spec(Spec.model_validate({"spec_version": 1, "model": merged(TINY, model)}))


def test_a_very_negative_sink_is_plain_attention_and_decoding_matches(tmp_path):
    folder = with_random_sinks(tmp_path / "run", SINKS)
    model = folder.build().eval()
    plain_spec = merged(SINKS, {"attention": {"sinks": False}})
    plain = build(lower_spec(model_folder_spec(plain_spec)), seed=0).eval()
    state = {name: tensor for name, tensor in model.state_dict().items() if not name.endswith("kernel.sinks")}
    plain.load_state_dict(state)
    ids = torch.randint(0, 258, (2, 9), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        with_sinks = model(ids)
        assert (with_sinks - plain(ids)).abs().max() > 1e-2  # the sinks act
        for block in model.blocks:
            block.attention.kernel.sinks.fill_(-1e4)
        assert torch.allclose(model(ids), plain(ids), atol=1e-5)
    model = folder.build().eval()
    cache = model.empty_cache(2)
    steps = []
    with torch.no_grad():
        for start, end in [(0, 4)] + [(i, i + 1) for i in range(4, 9)]:
            out, cache = model.forward_with_cache(ids[:, start:end], torch.ones(2, end, dtype=torch.long),
                                                  torch.arange(start, end).expand(2, -1), cache)
            steps.append(out)
    assert torch.allclose(torch.cat(steps, dim=1), with_sinks, atol=1e-5)


@pytest.mark.parametrize("portable", [False, True], ids=["fused", "portable"])
def test_onnx_forms_pass_the_gate_and_a_wrong_sink_fails_it(tmp_path, monkeypatch, portable):
    folder = with_random_sinks(tmp_path / "run", SINKS)
    result = export_onnx(folder, tmp_path / "good", portable=portable)
    assert result.parity.passed
    graph_ops = (tmp_path / "good" / "model.onnx").read_bytes()
    assert (b"GroupQueryAttention" in graph_ops) != portable

    read = Weights.tensor  # what the graph writer reads; the gate's eager model loads the file itself
    monkeypatch.setattr(Weights, "tensor", lambda self, name: (
        -read(self, name) if name.endswith("kernel.sinks") else read(self, name)))
    with pytest.raises(ParityError):
        export_onnx(folder, tmp_path / "bad", portable=portable)
