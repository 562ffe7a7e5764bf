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


INT4 = ("light_llm int4", "light_llm int4 gptq/128")


def _rows(ratio: float, batches=(1, 4)) -> dict:
    rows = {}
    for precision, names in (("fp32", ("light_llm fp32",)), ("int4", INT4)):
        for driver in ("plain onnxruntime loop", "og.Generator"):
            for batch in batches:
                rows[f"builder {precision}", driver, batch] = (1.0, 100.0, None)
                for name in names:
                    rows[name, driver, batch] = (1.0, 100.0 * ratio, None)
    return rows


def _verdicts(found) -> dict[str, bool]:
    return {goal.name.split(":")[0]: goal.met for goal in found if "every goal above" in goal.name}


def test_goals_are_met_at_every_batch_and_driver(bench):
    found = bench.goals(_rows(1.02), {INT4[0]: 20.0, INT4[1]: 20.4, "builder int4": 20.5}, [1, 4])
    assert all(goal.met for goal in found) and len(found) == 2 + 1 + 2 * 3 + 1
    assert found[0].figures == "batch 1 1.020×, batch 4 1.020×"
    assert found[-1].figures == ", ".join(INT4)


def test_a_slower_batch_or_a_worse_perplexity_is_not_met(bench):
    rows = _rows(1.1)
    rows["light_llm fp32", "og.Generator", 4] = (1.0, 90.0, None)
    rows[INT4[0], "plain onnxruntime loop", 1] = (1.0, 90.0, None)  # the grid fit: slower, better perplexity
    found = bench.goals(rows, {INT4[0]: 14.5, INT4[1]: 21.0, "builder int4": 20.5}, [1, 4])
    named = {goal.name: goal for goal in found}
    assert not named["light_llm fp32 ≥ 1.0× builder fp32, og.Generator"].met
    assert named["light_llm fp32 ≥ 1.0× builder fp32, plain onnxruntime loop"].met
    assert not named[f"{INT4[1]} perplexity ≤ builder int4's"].met and named[f"{INT4[0]} perplexity ≤ builder int4's"].met
    assert _verdicts(found) == {"light_llm fp32": False, "light_llm int4": False}  # no one int4 export meets both
    found = bench.goals(rows, {INT4[0]: 14.5, INT4[1]: 20.4, "builder int4": 20.5}, [1, 4])
    assert _verdicts(found)["light_llm int4"] and found[-1].figures == INT4[1]


def test_a_goal_with_a_figure_missing_is_not_met(bench):
    found = bench.goals(_rows(1.5, batches=(1,)), {INT4[0]: 20.0}, [1, 4])
    assert not any(goal.met for goal in found)
    assert found[0].figures == "batch 1 1.500×, batch 4 not measured"
    assert found[-2].figures == "not measured" and found[-1].figures == "none"


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
