"""The few-row Linear kernel is chosen by timing both candidates on first use: the choice
gives F.linear's results, is kept per shape, falls back to the plain kernel when the
blocked one is not clearly faster or cannot be measured, and never happens while tracing."""

from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F

from light_llm.generation.eager_signature import run_module, signature_module
from light_llm.models.transformer import linear_calibration
from light_llm.models.transformer.linear import MAX_ROWS, ROW_BLOCKS, Linear
from light_llm.models.transformer.linear_calibration import (
    BLOCKED,
    PLAIN,
    clear_kernel_choices,
    forced_kernel,
    kernel_choices,
)
from light_llm.runtime.generator import generate_ids
from light_llm.runtime.geometry import Geometry
from tiny_models import tiny_model, tokens


@pytest.fixture(autouse=True)
def fresh_choices():
    clear_kernel_choices()
    yield
    clear_kernel_choices()


def fake_timings(monkeypatch, plain_s: float, blocked_s: float) -> list[int]:
    """Calibration reports these medians; the returned list counts the calibrations."""
    calls: list[int] = []

    def medians(*candidates):
        calls.append(len(candidates))
        return [plain_s, blocked_s]

    monkeypatch.setattr(linear_calibration, "median_seconds", medians)
    return calls


@pytest.mark.parametrize("in_features, out_features", [(24, 16), (64, 12), (96, 256)])
@pytest.mark.parametrize("rows", range(1, MAX_ROWS + 1))
def test_calibrated_linear_equals_f_linear(in_features, out_features, rows):
    torch.manual_seed(rows)
    layer = Linear(in_features, out_features)
    x = torch.randn(1, rows, in_features)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias), atol=1e-5, rtol=1e-5)
    assert len(kernel_choices()) == 1
    assert f"linear {in_features}->{out_features} +bias float32 rows={rows}" in kernel_choices()[0]


def test_each_shape_and_row_count_is_measured_once(monkeypatch):
    calls = fake_timings(monkeypatch, plain_s=2.0, blocked_s=1.0)
    wide, narrow = Linear(32, 64, bias=False), Linear(64, 32, bias=False)
    with torch.no_grad():
        for _ in range(3):
            wide(torch.randn(1, 1, 32))
            narrow(torch.randn(1, 1, 64))
            wide(torch.randn(1, 2, 32))
        Linear(32, 64, bias=False)(torch.randn(1, 1, 32))  # same shape, another layer: no new timing
    assert len(calls) == 3
    assert [line.split(":")[0] for line in kernel_choices()] == [
        "linear 32->64 float32 rows=1 threads=%d" % torch.get_num_threads(),
        "linear 64->32 float32 rows=1 threads=%d" % torch.get_num_threads(),
        "linear 32->64 float32 rows=2 threads=%d" % torch.get_num_threads(),
    ]


@pytest.mark.parametrize(
    "plain_s, blocked_s, expected",
    [(2.0, 1.0, BLOCKED), (1.0, 2.0, PLAIN), (1.0, 0.95, PLAIN)],  # the last: within noise
    ids=["blocked-faster", "plain-faster", "blocked-barely-faster"],
)
def test_faster_kernel_is_kept(monkeypatch, plain_s, blocked_s, expected, caplog):
    from test_decode_fast_paths import RecordOps

    fake_timings(monkeypatch, plain_s, blocked_s)
    layer = Linear(16, 4 * ROW_BLOCKS)
    with torch.no_grad(), caplog.at_level(logging.DEBUG, logger=linear_calibration.__name__):
        layer(torch.randn(1, 16))
        with RecordOps() as ops:
            layer(torch.randn(1, 16))
    assert ("bmm" in ops.names()) == (expected == BLOCKED)
    assert caplog.messages[-1].endswith(f"-> {expected}")


def test_failed_measurement_keeps_plain_kernel(monkeypatch):
    def broken(*candidates):
        raise RuntimeError("no timer here")

    monkeypatch.setattr(linear_calibration, "median_seconds", broken)
    layer = Linear(16, 16)
    x = torch.randn(1, 16)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias))
    assert kernel_choices()[0].endswith("plain nan us, blocked nan us -> plain")


def test_tracing_neither_calibrates_nor_uses_blocked_kernel(monkeypatch):
    calls = fake_timings(monkeypatch, plain_s=2.0, blocked_s=1.0)  # blocked would win if asked
    layer = Linear(16, 16).eval()
    x = torch.randn(1, 1, 16)
    exported = torch.export.export(layer, (x,)).graph_module.code
    traced = torch.jit.trace(layer, (x,), check_trace=False).inlined_graph  # no eager check run
    assert "bmm" not in exported and "aten::bmm" not in str(traced)
    assert calls == [] and kernel_choices() == []


def test_forced_kernel_refuses_unknown_names():
    with pytest.raises(ValueError, match="'fast' is not one of"):
        with forced_kernel("fast"):
            pass


@pytest.mark.parametrize("attention", [{}, {"variant": "gqa", "num_kv_heads": 2}])
def test_both_kernels_give_the_same_greedy_tokens(attention):
    model = tiny_model(attention=attention)
    geometry = Geometry.from_ir(model.ir)
    run = run_module(signature_module(model, geometry), geometry)
    prompts = [tokens(1, 5, seed=1)[0].tolist(), tokens(1, 3, seed=2)[0].tolist()]
    generated = {}
    for kernel in (PLAIN, BLOCKED):
        with forced_kernel(kernel):
            generated[kernel] = generate_ids(run, geometry, prompts, max_new_tokens=12)
    generated["calibrated"] = generate_ids(run, geometry, prompts, max_new_tokens=12)
    assert generated[PLAIN] == generated[BLOCKED] == generated["calibrated"]
    assert all(len(row) == 12 for row in generated[PLAIN])
    assert kernel_choices()  # the calibrated run measured its decode shapes


def test_calibration_reads_the_weight_from_memory_as_decode_does():
    """The candidates cycle through copies of the weight larger than the caches together:
    timed on a cache-hot weight, plain F.linear wins where decode (weights read from
    memory) runs faster blocked."""
    weight = torch.randn(512, 256)  # 512 KiB: 128 copies would fill COLD_BYTES, capped
    copies = linear_calibration._cold_copies(weight)
    assert len(copies) == linear_calibration.MAX_COPIES
    assert all(torch.equal(copy, weight) and copy.data_ptr() != weight.data_ptr() for copy in copies)
    read: list[int] = []
    call = linear_calibration._cycling(lambda x, w, bias: read.append(w.data_ptr()), torch.randn(1, 256), copies, None)
    for _ in range(2 * len(copies)):
        call()
    assert len(set(read)) == len(copies)
    assert len(linear_calibration._cold_copies(torch.empty(4096, 4096))) == 1  # 64 MiB already


def test_a_compiled_decode_step_keeps_the_calibrated_kernel(monkeypatch):
    from light_llm.models.transformer import linear as linear_module

    calls: list[int] = []
    blocked = linear_module.blocked_linear
    monkeypatch.setattr(linear_module, "blocked_linear", lambda *args: calls.append(1) or blocked(*args))
    layer = Linear(24, 16)
    x = torch.randn(1, 1, 24)
    with torch.no_grad(), forced_kernel(BLOCKED):
        out = torch.compile(layer, fullgraph=True)(x)
    torch.testing.assert_close(out, F.linear(x, layer.weight, layer.bias))
    assert calls == [1]  # ran inside the compiled graph, not replaced by Inductor's mm


@pytest.mark.parametrize("calibrated_first, traced", [
    (True, "inline"),  # the choice is known when tracing: its bmm or mm is in the graph
    (False, "custom op"),  # not yet: the op calibrates and chooses when the graph runs
])
def test_a_compiled_step_inlines_a_kernel_calibrated_before_tracing(monkeypatch, calibrated_first, traced):
    fake_timings(monkeypatch, plain_s=2.0, blocked_s=1.0)
    torch._dynamo.reset()
    layer, x = Linear(24, 16), torch.randn(1, 1, 24)
    targets: list = []

    def recording(graph_module, inputs):
        targets.extend(node.target for node in graph_module.graph.nodes)
        return graph_module.forward

    with torch.no_grad():
        if calibrated_first:
            layer(x)
        out = torch.compile(layer, backend=recording, fullgraph=True)(x)
    torch.testing.assert_close(out, F.linear(x, layer.weight, layer.bias))
    custom = torch.ops.light_llm.few_row_linear.default in targets or torch.ops.light_llm.few_row_linear in targets
    assert custom == (traced == "custom op")
