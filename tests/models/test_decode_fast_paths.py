"""The eager CPU fast paths of KV-cache decoding: few-row Linear as a batched matmul over
blocks of output rows (where calibration or a test forces it), and grouped KV heads read
by SDPA without an expanded copy. Both give nn.Linear's / expanded heads' results, and
neither reaches a traced graph."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from light_llm.models.transformer.attention import SDPAKernel, expand_kv_heads, single_query_attention
from light_llm.models.transformer.linear import MAX_ROWS, ROW_BLOCKS, Linear
from light_llm.models.transformer.linear_calibration import BLOCKED, forced_kernel
from tiny_models import tiny_ir, tiny_model, tokens


class RecordOps(TorchDispatchMode):
    """Every aten op called inside, with its arguments."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[str, tuple]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls.append((func.overloadpacket.__name__, args))
        return func(*args, **(kwargs or {}))

    def names(self) -> set[str]:
        return {name for name, _ in self.calls}


@pytest.mark.parametrize("rows", range(1, MAX_ROWS + 2))
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("out_features", [4 * ROW_BLOCKS, 4 * ROW_BLOCKS + 1])
@forced_kernel(BLOCKED)
def test_linear_equals_nn_linear(rows, bias, out_features):
    torch.manual_seed(0)
    plain = nn.Linear(24, out_features, bias=bias)
    fast = Linear(24, out_features, bias=bias)
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(1, rows, 24, requires_grad=True)
    x_plain = x.detach().clone().requires_grad_()
    torch.testing.assert_close(fast(x), plain(x_plain), atol=1e-6, rtol=1e-6)
    fast(x).square().sum().backward()
    plain(x_plain).square().sum().backward()
    torch.testing.assert_close(fast.weight.grad, plain.weight.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(x.grad, x_plain.grad, atol=1e-5, rtol=1e-5)


@forced_kernel(BLOCKED)
def test_linear_uses_blocked_matmul_for_few_rows_only():
    layer = Linear(24, 4 * ROW_BLOCKS)
    with torch.no_grad(), RecordOps() as few:
        layer(torch.randn(1, MAX_ROWS, 24))
    with torch.no_grad(), RecordOps() as many:
        layer(torch.randn(1, MAX_ROWS + 1, 24))
    assert "bmm" in few.names()
    assert "bmm" not in many.names()


@forced_kernel(BLOCKED)
def test_decode_step_reads_grouped_kv_heads_unexpanded():
    model = tiny_model(attention={"variant": "gqa", "num_kv_heads": 2})
    ids = tokens(1, 5)
    with torch.no_grad():
        _, cache = model.forward_with_cache(
            ids[:, :4], torch.ones(1, 4, dtype=torch.long), torch.arange(4)[None], model.empty_cache(1)
        )
        with RecordOps() as step:
            model.forward_with_cache(ids[:, 4:], torch.ones(1, 5, dtype=torch.long), torch.tensor([[4]]), cache)
    sdpa_keys = [args[1] for name, args in step.calls if "scaled_dot_product" in name and len(args) > 1]
    assert sdpa_keys and all(key.shape[1] == 2 for key in sdpa_keys)
    assert "bmm" in step.names()


@pytest.mark.parametrize("mask", [None, "padding"])
def test_native_gqa_equals_expanded_heads(mask):
    ir = tiny_ir(attention={"variant": "gqa", "num_kv_heads": 2}).blocks[0].attention
    kernel = SDPAKernel(ir).eval()
    q, k, v = torch.randn(2, 4, 3, 8), torch.randn(2, 2, 7, 8), torch.randn(2, 2, 7, 8)
    bias = None
    if mask:
        bias = torch.zeros(2, 1, 3, 7)
        bias[0, ..., :2] = torch.finfo(torch.float32).min
    expanded = F.scaled_dot_product_attention(
        q, expand_kv_heads(k, 2), expand_kv_heads(v, 2), attn_mask=bias, is_causal=bias is None
    )
    torch.testing.assert_close(kernel(q, k, v, bias), expanded, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("bias_heads", [1, 4], ids=["shared bias", "a bias per query head"])
def test_single_query_attention_equals_expanded_heads(bias_heads):
    """The compiled decode step's attention (one query, query heads grouped per KV head)."""
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(shape, generator=generator) for shape in ((2, 4, 1, 8), (2, 2, 7, 8), (2, 2, 7, 8)))
    bias = torch.randn(2, bias_heads, 1, 7, generator=generator)
    bias[0, ..., :2] = torch.finfo(torch.float32).min
    expanded = F.scaled_dot_product_attention(q, expand_kv_heads(k, 2), expand_kv_heads(v, 2), attn_mask=bias, scale=0.3)
    torch.testing.assert_close(single_query_attention(q, k, v, bias, 0.3), expanded, atol=1e-6, rtol=1e-6)


@forced_kernel(BLOCKED)
def test_traced_decode_step_keeps_portable_ops():
    """Exports trace the same modules: the traced graph has plain matmuls (which int8/int4
    quantization rewrites) and expanded KV heads, even for one decoded token."""
    model = tiny_model(attention={"variant": "gqa", "num_kv_heads": 2}, vocab_size=64)

    class DecodeStep(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, ids, mask, positions, *past):
            pairs = [(past[i], past[i + 1]) for i in range(0, len(past), 2)]
            return self.model.forward_with_cache(ids, mask, positions, pairs)[0]

    past = [torch.randn(1, 2, 4, 8) for _ in range(2 * model.ir.num_layers)]
    inputs = (tokens(1, 1), torch.ones(1, 5, dtype=torch.long), torch.tensor([[4]]), *past)
    graph = torch.export.export(DecodeStep(), inputs).graph_module.code
    assert "bmm" not in graph
    assert "enable_gqa = True" not in graph and "enable_gqa=True" not in graph
