"""The compiled decode path (generation/compiled_decode.py, static_cache.py): the same greedy
tokens as the plain eager path, for a llama-style and a sliding-window model, across
cache growth and left padding; and the plain path, with a debug line, where compiling fails."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from light_llm.generation import compiled_decode, static_cache
from light_llm.generation.compiled_decode import CompiledDecode
from light_llm.generation.eager_signature import run_module, signature_module
from light_llm.runtime.generator import generate_ids
from light_llm.runtime.geometry import Geometry
from light_llm.generation.static_cache import StaticCache, capacity_for

sys.path.insert(0, str(Path(__file__).parents[1] / "models"))
from tiny_models import tiny_model  # noqa: E402

PROMPTS = [[5, 6, 7, 8, 9], [40, 41, 42]]  # left-padded into one batch


def varied(model):
    """Weights drawn wide enough that greedy decoding does not repeat one token (from their
    own generator: the global one's state depends on which tests ran before)."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.5, generator=generator)
    return model


def decoders(model, compile: str) -> tuple:
    geometry = Geometry.from_ir(model.ir)
    signature = signature_module(model, geometry)
    return geometry, run_module(signature, geometry), CompiledDecode(signature, geometry, compile)


@pytest.mark.parametrize("overrides, min_capacity, prompts, graphs", [
    pytest.param({"attention": {"variant": "gqa", "num_kv_heads": 2}, "ffn": {"variant": "swiglu"},
                  "norm": {"type": "rmsnorm"}}, 8, PROMPTS, 2, id="llama, padded batch, cache growing 8 → 16 → 23"),
    pytest.param({"attention": {"mask_type": "sliding_window", "window_size": 4}}, 256, PROMPTS[:1], 1,
                 id="sliding-window, batch 1"),
    pytest.param({"attention": {"variant": "gqa", "num_kv_heads": 2}, "positional": {"encoding": "alibi"}}, 256,
                 PROMPTS, 1, id="alibi (a bias per query head), grouped KV heads, padded batch"),
])
@pytest.mark.slow  # a real compile of a tiny model: about 15 s on 2 cores
def test_compiled_decode_gives_the_plain_greedy_tokens(overrides, min_capacity, prompts, graphs, monkeypatch):
    from torch._dynamo.utils import counters

    monkeypatch.setattr(static_cache, "MIN_CAPACITY", min_capacity)
    geometry, plain, compiled = decoders(varied(tiny_model(**overrides)), "on")
    steps = geometry.max_seq_len - len(prompts[0])
    expected = generate_ids(plain, geometry, prompts, max_new_tokens=steps)
    before = counters["stats"]["unique_graphs"]
    assert generate_ids(compiled, geometry, prompts, max_new_tokens=steps) == expected
    # a static graph, then one with a dynamic capacity once the cache grows; none per step
    assert counters["stats"]["unique_graphs"] - before == graphs
    assert compiled.compile_seconds is not None and compiled.unavailable is None
    assert len(set(expected[0])) > 1  # not a degenerate repetition


def test_without_compilation_the_plain_path_decodes_with_a_debug_line(monkeypatch, caplog):
    def unavailable(module):
        raise RuntimeError("inductor backend unavailable here\nsecond line")

    monkeypatch.setattr(compiled_decode, "compile_step", unavailable)
    geometry, plain, compiled = decoders(tiny_model(), "on")
    with caplog.at_level(logging.DEBUG, logger=compiled_decode.__name__):
        tokens = generate_ids(compiled, geometry, PROMPTS, max_new_tokens=8)
    assert tokens == generate_ids(plain, geometry, PROMPTS, max_new_tokens=8)
    assert compiled.unavailable == "RuntimeError: inductor backend unavailable here"
    assert "compiled decode unavailable (RuntimeError: inductor backend unavailable here)" in caplog.text


def test_a_step_failing_at_its_first_call_falls_back_mid_generation(monkeypatch):
    """Dynamo and Inductor raise at the first call, after the static cache is built: the
    plain path takes the cached tokens back and continues."""
    def no_compiler(graph, example_inputs):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(compiled_decode, "compile_step",
                        lambda module: torch.compile(module, backend=no_compiler, fullgraph=True))
    geometry, plain, compiled = decoders(tiny_model(), "on")
    assert generate_ids(compiled, geometry, PROMPTS, max_new_tokens=8) == \
        generate_ids(plain, geometry, PROMPTS, max_new_tokens=8)
    assert compiled.unavailable.startswith("BackendCompilerFailed")
    assert compiled.unavailable.endswith("← RuntimeError: no C++ compiler")


def test_auto_compiles_only_after_enough_plain_tokens(monkeypatch):
    calls = []
    monkeypatch.setattr(compiled_decode, "compile_step", lambda module: calls.append(module) or module)
    monkeypatch.setattr(compiled_decode, "AUTO_COMPILE_AFTER", 10)
    geometry, plain, auto = decoders(tiny_model(), "auto")
    first = generate_ids(auto, geometry, PROMPTS, max_new_tokens=6)  # 6 plain decode steps
    assert calls == [] and auto.decoded_tokens == 6
    second = generate_ids(auto, geometry, PROMPTS, max_new_tokens=12)  # compiles after 4 more
    assert len(calls) == 1 and auto.decoded_tokens == 10
    assert [first, second] == [generate_ids(plain, geometry, PROMPTS, max_new_tokens=n) for n in (6, 12)]
    _, _, off = decoders(tiny_model(), "off")
    generate_ids(off, geometry, PROMPTS, max_new_tokens=12)
    assert off.compile_seconds is None and off.decoded_tokens == 12


def cli(*args):
    from typer.testing import CliRunner

    from light_llm.cli import app as cli_module

    if not cli_module.app.registered_commands:
        cli_module._register_commands()
    return CliRunner().invoke(cli_module.app, [str(a) for a in args])


def test_cli_generate_compile_option(llama_export, monkeypatch):
    """`--compile on` decodes through the static cache (the step left uncompiled here, to
    keep the test quick) and reports the compile time on stderr; the text equals --compile off."""
    monkeypatch.setattr(compiled_decode, "compile_step", lambda module: module)
    run = llama_export[0]
    options = ["--prompt", "for i in", "--max-new-tokens", "12"]
    on, off = cli("generate", run, *options, "--compile", "on"), cli("generate", run, *options, "--compile", "off")
    assert on.exit_code == 0 and off.exit_code == 0
    assert on.stdout == off.stdout and on.stdout.startswith("for i in")
    assert "compiled the decode step in" in on.stderr and "compiled" not in off.stderr
    bad = cli("generate", run, *options, "--compile", "sometimes")
    assert bad.exit_code == 1 and "compile='sometimes': allowed: auto, on, off" in bad.output
    assert "Traceback" not in bad.output


def test_cli_generate_compile_on_says_when_compiling_failed(llama_export, monkeypatch):
    def unavailable(module):
        raise RuntimeError("no C++ compiler\nsecond line")

    monkeypatch.setattr(compiled_decode, "compile_step", unavailable)
    options = ["--prompt", "for i in", "--max-new-tokens", "6"]
    on, auto = cli("generate", llama_export[0], *options, "--compile", "on"), cli("generate", llama_export[0], *options)
    assert on.exit_code == 0 and on.stdout == auto.stdout
    assert on.stderr.splitlines() == ["note: --compile on: compiling the decode step failed "
                                      "(RuntimeError: no C++ compiler); decoded with the plain eager path"]
    assert auto.stderr == ""  # auto never compiled a 6-token generation


def test_bad_compile_mode_is_refused():
    with pytest.raises(ValueError, match="compile='sometimes': allowed: auto, on, off"):
        decoders(tiny_model(), "sometimes")


def test_static_cache_is_right_aligned_and_grows_by_powers_of_two():
    assert [capacity_for(n, 4096) for n in (1, 255, 256, 257, 1000)] == [256, 256, 256, 512, 1024]
    assert capacity_for(260, 300) == 299  # never beyond max_seq_len - 1
    past = [torch.arange(6, dtype=torch.float32).view(1, 1, 3, 2)]
    cache = StaticCache.from_past(past, capacity=4)
    assert cache.buffers[0].shape == (1, 1, 5, 2)
    assert torch.equal(cache.plain_past()[0], past[0]) and torch.equal(cache.past()[0][:, :, 1:], past[0])
    assert cache.step_mask(np.array([[0, 1, 1, 1]])).tolist() == [[0, 0, 1, 1, 1]]
    assert cache.fits(5) and not cache.fits(6)


def test_a_caller_that_changes_the_rows_gets_the_plain_results(monkeypatch):
    """A server drops a finished row between steps: the past it hands back is no longer
    the presents of the last step, so the cache is rebuilt from it; every step's logits
    equal the plain path's on the same feeds (the step left uncompiled to keep it quick)."""
    from light_llm.runtime.feeds import past_from_presents, step_feeds

    monkeypatch.setattr(compiled_decode, "compile_step", lambda module: module)
    geometry, plain, compiled = decoders(varied(tiny_model()), "on")
    bound = compiled.bound()
    ids = np.array([[5, 6, 7], [8, 9, 10]])
    mask = np.ones_like(ids)
    outputs = bound(step_feeds(geometry, ids, mask, None))
    reference = plain(step_feeds(geometry, ids, mask, None))
    for step in range(3):
        tokens = np.array([[11 + step], [12 + step]])[: len(mask)]
        mask = np.concatenate([mask, np.ones_like(tokens)], axis=1)
        outputs = bound(step_feeds(geometry, tokens, mask, past_from_presents(outputs, geometry)))
        reference = plain(step_feeds(geometry, tokens, mask, past_from_presents(reference, geometry)))
        np.testing.assert_allclose(outputs["logits"], reference["logits"], rtol=1e-5, atol=1e-5)
        assert outputs["present.0.key"].shape == reference["present.0.key"].shape
        if step == 1:  # row 1 finishes: the caller keeps row 0 only
            outputs = {name: np.asarray(value)[:1] for name, value in outputs.items()}
            reference = {name: value[:1] for name, value in reference.items()}
            mask = mask[:1]


@pytest.mark.slow  # a real compile of a tiny model
def test_the_compiled_step_reads_the_weights_as_they_are_now():
    """The step skips guards on the module (compile_step): values changed in place after
    compiling must still be the ones it multiplies by."""
    model = varied(tiny_model(attention={"variant": "gqa", "num_kv_heads": 2}))
    geometry, plain, compiled = decoders(model, "on")
    generate_ids(compiled, geometry, PROMPTS, max_new_tokens=4)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(-1.5)
    steps = 8
    assert generate_ids(compiled, geometry, PROMPTS, max_new_tokens=steps) == generate_ids(
        plain, geometry, PROMPTS, max_new_tokens=steps)


@pytest.mark.slow  # two real compiles of a tiny model
def test_a_second_model_of_the_same_shapes_gets_its_own_compiled_step():
    """Models that differ only in a number the graph bakes in (the norm's eps) must not
    share a compiled step: the module guards that would tell them apart are skipped."""
    steps = 8
    for eps in (1e-5, 0.9):
        model = varied(tiny_model(attention={"variant": "gqa", "num_kv_heads": 2}, norm={"type": "rmsnorm", "eps": eps}))
        geometry, plain, compiled = decoders(model, "on")
        assert generate_ids(compiled, geometry, PROMPTS, max_new_tokens=steps) == generate_ids(
            plain, geometry, PROMPTS, max_new_tokens=steps), f"eps={eps}"
