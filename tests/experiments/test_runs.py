"""What every run writes for comparing it: TensorBoard events (read back with
tensorboard's own reader), RUN/loss.png, and `lightllm compare`'s table, plot and report,
checked against the runs' metrics.jsonl."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from experiment_helpers import invoke, metric_records, write_tiny_spec
from safetensors.torch import load_file

from light_llm.run_logs.plot import DPI, SIZE_INCHES
from light_llm.run_logs.tensorboard import TAGS

STEPS = 4


@pytest.fixture(scope="module")
def runs(cli_app, tmp_path_factory) -> dict[str, Path]:
    """Two trained runs: `complex` with TensorBoard, `alibi` without."""
    folder = tmp_path_factory.mktemp("runs")
    spec = write_tiny_spec(folder, steps=STEPS)
    trained = {}
    for name, extra in {
        "complex": ["--set", "model.attention.variant=complex"],
        "alibi": ["--set", "model.positional.encoding=alibi", "--no-tensorboard"],
    }.items():
        result = invoke(cli_app, "train", spec, "--out", folder / name, *extra)
        assert result.exit_code == 0, result.output
        trained[name] = folder / name
    return trained


def _assert_png(path: Path) -> None:
    import matplotlib.image

    pixels = matplotlib.image.imread(str(path))
    height, width = pixels.shape[:2]
    assert (width, height) == (round(SIZE_INCHES[0] * DPI), round(SIZE_INCHES[1] * DPI))
    colours = np.unique(pixels[..., :3].reshape(-1, 3), axis=0)
    assert len(colours) > 20, "the plot is blank"  # axes, text and anti-aliased lines
    assert pixels[..., :3].std() > 0.02


def test_resolved_spec_records_the_overrides(runs) -> None:
    resolved = json.loads((runs["complex"] / "spec.resolved.json").read_text())
    assert resolved["model"]["attention"]["variant"] == "complex"
    assert json.loads((runs["alibi"] / "spec.resolved.json").read_text())["model"]["positional"]["encoding"] == "alibi"


def test_tensorboard_events_match_the_metrics(runs) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(runs["complex"] / "tensorboard"))
    events.Reload()
    records = metric_records(runs["complex"])
    logged = {tag for key, tag in TAGS.items() if any(key in record for record in records)}
    assert set(events.Tags()["scalars"]) == logged and "train/moe_aux_loss" not in logged  # a dense model
    for key, tag in TAGS.items():
        if tag not in logged:
            continue
        expected = [(record["step"], record[key]) for record in records if key in record]
        written = [(event.step, event.value) for event in events.Scalars(tag)]
        assert [step for step, _ in written] == [step for step, _ in expected], tag
        assert np.allclose([value for _, value in written], [value for _, value in expected], rtol=1e-6), tag
    assert [event.step for event in events.Scalars("validation/loss")] == [2, 4]


def test_no_tensorboard_flag(runs) -> None:
    assert not (runs["alibi"] / "tensorboard").exists()
    assert (runs["alibi"] / "metrics.jsonl").is_file()


def test_train_writes_its_loss_plot(runs) -> None:
    for run in runs.values():
        _assert_png(run / "loss.png")


def test_compare_table_plot_and_report(cli_app, runs, tmp_path) -> None:
    out = tmp_path / "report"
    result = invoke(cli_app, "compare", runs["complex"], runs["alibi"], "--out", out)
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
            for line in result.output.splitlines() if line.startswith("│")}
    assert set(rows) == {"complex", "alibi"}
    for name, run in runs.items():
        records = metric_records(run)
        validation = [record["val_loss"] for record in records if "val_loss" in record]
        steps = [record for record in records if "loss" in record]
        speeds = sorted(record["tokens_per_s"] for record in steps)
        parameters = sum(tensor.numel() for tensor in load_file(run / "model.safetensors").values())
        parameters_, _flops, tokens, final, best, perplexity, speed, wall, exports = rows[name]
        assert parameters_ == f"{parameters:,}"
        assert tokens == f"{steps[-1]['tokens']:,}" and steps[-1]["step"] == STEPS
        assert final == f"{validation[-1]:.4f}" and best == f"{min(validation):.4f}"
        assert perplexity == f"{math.exp(validation[-1]):.2f}"
        assert speed == f"{speeds[len(speeds) // 2]:,.0f}"
        assert wall == f"{steps[-1]['wall_s']:.1f} s"
        assert exports == "—"
    _assert_png(out / "validation_loss.png")
    report = (out / "report.md").read_text()
    assert "![validation loss against tokens trained](validation_loss.png)" in report
    table_rows = [line for line in report.splitlines() if line.startswith("| complex") or line.startswith("| alibi")]
    assert len(table_rows) == 2


def test_compare_of_a_folder_that_is_no_run(cli_app, tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    result = invoke(cli_app, "compare", tmp_path / "empty")
    assert result.exit_code == 1 and "is it a run folder of `lightllm train`" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_compare_reads_export_parity_and_times_onnx_decoding(cli_app, runs, tmp_path) -> None:
    import shutil

    run = tmp_path / "exported"
    shutil.copytree(runs["alibi"], run)
    exported = invoke(cli_app, "export", run, "--onnx")
    assert exported.exit_code == 0, exported.output
    parity = json.loads((run / "exports/onnx/light_llm.json").read_text())["parity"]
    plain = invoke(cli_app, "compare", run)
    assert f"onnx passed {parity['max_abs_error']:.1e}" in plain.output and "tok/s" not in plain.output.split("│")[-2]
    timed = invoke(cli_app, "compare", run, "--decode")
    assert timed.exit_code == 0, timed.output
    cell = [line for line in timed.output.splitlines() if line.startswith("│")][0].split("│")[-2].strip()
    speed = float(cell.split(", ")[1].removesuffix(" tok/s").replace(",", ""))
    assert cell.startswith(f"onnx passed {parity['max_abs_error']:.1e}") and speed > 0
