"""benchmarks/real_model.py's verdict on the goals, on made-up figures (the benchmark itself
takes many minutes): met only where every batch and driver reaches its ratio, and never
where a figure is missing."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))  # it imports its sibling benchmarks
    try:
        yield SimpleNamespace(**runpy.run_path(str(BENCHMARKS / "real_model.py")))
    finally:
        sys.path.remove(str(BENCHMARKS))


def _rows(ratio: float, batches=(1, 4)) -> dict:
    rows = {}
    for precision in ("fp32", "int4"):
        for driver in ("plain onnxruntime loop", "og.Generator"):
            for batch in batches:
                rows[f"builder {precision}", driver, batch] = (1.0, 100.0, None)
                rows[f"light_llm {precision}", driver, batch] = (1.0, 100.0 * ratio, None)
    return rows


def test_goals_are_met_at_every_batch_and_driver(bench):
    found = bench.goals(_rows(1.02), {"light_llm int4": 20.0, "builder int4": 20.5}, [1, 4])
    assert [goal.met for goal in found] == [True] * 5
    assert found[0].figures == "batch 1 1.020×, batch 4 1.020×"


def test_a_slower_batch_or_a_worse_perplexity_is_not_met(bench):
    rows = _rows(1.1)
    rows["light_llm fp32", "og.Generator", 4] = (1.0, 90.0, None)
    found = {goal.name: goal for goal in bench.goals(rows, {"light_llm int4": 21.0, "builder int4": 20.5}, [1, 4])}
    assert not found["light_llm fp32 ≥ 1.0× builder fp32, og.Generator"].met
    assert found["light_llm fp32 ≥ 1.0× builder fp32, plain onnxruntime loop"].met
    assert not found["light_llm int4 perplexity ≤ builder int4's"].met


def test_a_goal_with_a_figure_missing_is_not_met(bench):
    found = bench.goals(_rows(1.5, batches=(1,)), {"light_llm int4": 20.0}, [1, 4])
    assert not any(goal.met for goal in found)
    assert found[0].figures == "batch 1 1.500×, batch 4 not measured"
    assert found[-1].figures == "not measured"


def test_the_llama_cpp_table_gives_each_row_its_ratio_to_onnxruntime_fp32(bench, capsys):
    """benchmarks/llama_cpp_rows.py's table (printed after real_model.py's) on made-up rows:
    each decode rate over onnxruntime fp32's, and its tokens counted against the reference."""
    import numpy as np
    from llama_cpp_rows import ORIGINAL, llama_cpp_table

    reference = np.array([[1, 2, 3, 4]])
    rows = {"onnxruntime light_llm fp32": (900.0, 10.0, reference),
            "llama.cpp Q4_0": (1900.0, 25.0, np.array([[1, 2, 9, 9]])),
            f"llama.cpp {ORIGINAL}": (3000.0, 15.0, reference)}
    llama_cpp_table(rows, 2, ("light_llm fp32", reference))
    lines = capsys.readouterr().out.splitlines()
    assert "| onnxruntime | light_llm fp32 | 900 | 10.0 | 1.00× | 4/4 |" in lines
    assert "| llama.cpp | Q4_0 | 1900 | 25.0 | 2.50× | 2/4 |" in lines
    assert f"| llama.cpp | {ORIGINAL} | 3000 | 15.0 | 1.50× | 4/4 |" in lines
