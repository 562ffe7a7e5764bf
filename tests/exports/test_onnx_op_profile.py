"""benchmarks/onnx_op_profile.py: the decode steps' kernel time per op type, the prefill and
the warm-up generation left out, on synthetic profiler events and on a real export driven by
the plain onnxruntime loop and by og.Generator."""

from __future__ import annotations

import json
import runpy
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")


op_profile = SimpleNamespace(**runpy.run_path(str(Path(__file__).resolve().parents[2] / "benchmarks" / "onnx_op_profile.py")))


def _run(ts: int, dur: int) -> dict:
    return {"cat": "Session", "name": "model_run", "ts": ts, "dur": dur}


def _kernel(node: str, op: str, ts: int, dur: int) -> dict:
    return {"cat": "Node", "name": f"{node}_kernel_time", "ts": ts, "dur": dur, "args": {"op_name": op}}


def test_only_decode_runs_after_the_warm_up_count():
    # two generations of three runs each (prefill + 2 decode steps); the first is the warm-up
    runs = [_run(100 * index, 50) for index in range(6)]
    events = runs + [
        _kernel("warm", "MatMulNBits", 110, 1000),  # warm-up generation, decode run: left out
        _kernel("prefill", "MatMulNBits", 310, 500),  # second generation's prefill: left out
        _kernel("qkv", "MatMulNBits", 410, 10), _kernel("o", "MatMulNBits", 420, 6),
        _kernel("attention", "GroupQueryAttention", 430, 4),
        _kernel("qkv", "MatMulNBits", 510, 20),
        _kernel("between", "MatMulNBits", 470, 999),  # between two runs: left out
    ]
    windows = op_profile.decode_windows(events, runs_per_generation=3, skip_generations=1)
    assert windows == [(400, 450), (500, 550)]
    by_op = op_profile.per_step(events, windows)
    assert by_op == {"MatMulNBits": 18.0, "GroupQueryAttention": 2.0}  # medians of (16, 20) and (4, 0)
    assert op_profile.per_step(events, windows, by="node") == {"qkv": 15.0, "o": 3.0, "attention": 2.0}


@pytest.mark.parametrize("driver", ["plain onnxruntime loop", "og.Generator"])
def test_profile_of_a_fused_export(llama_export, tmp_path, driver):
    if driver == "og.Generator":
        pytest.importorskip("onnxruntime_genai", reason="onnxruntime-genai is not installed")
    folder = shutil.copytree(llama_export[1], tmp_path / "onnx")
    genai_config = (folder / "genai_config.json").read_text()
    config = json.loads((folder / "config.json").read_text())
    shape = {"d_model": config["hidden_size"], "heads": config["num_attention_heads"],
             "kv_heads": config["num_key_value_heads"], "vocab": config["vocab_size"], "prompt": 6}
    graph = op_profile.inference.Graph("fused", folder, "fp32", builder=False)
    table = op_profile.profile([graph], shape, threads=1, runs=2, new=4, by="op", root=tmp_path, driver=driver)
    row = table["fused"]
    assert row["GroupQueryAttention"] > 0 and row["(kernels run per step)"] > config["num_hidden_layers"]
    assert row["(model_run, median)"] >= row["GroupQueryAttention"]
    assert not list(tmp_path.glob("profile-*.json"))  # the profiles are read and removed
    assert (folder / "genai_config.json").read_text() == genai_config  # og.Generator's profiler switched off again
