"""Loss curves as PNG files (matplotlib, Agg backend: no display needed). Every write is
atomic: a temporary name, then a rename."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from light_llm.atomic_file import atomic_file
from light_llm.run_logs.metrics import RunMetrics

LOSS_PLOT = "loss.png"
SIZE_INCHES = (7.0, 4.2)
DPI = 100
LINE_STYLES = ("-", "--", ":", "-.")


def plot_run(metrics: RunMetrics, title: str, out: Path) -> Path:
    """One run: training loss and validation loss against tokens trained."""
    figure, axes = _figure()
    axes.plot([p.tokens for p in metrics.losses], [p.value for p in metrics.losses],
              linewidth=0.8, alpha=0.6, label="training loss")
    axes.plot([p.tokens for p in metrics.validation], [p.value for p in metrics.validation],
              marker="o", markersize=3, label="validation loss")
    return _save(figure, axes, title, out)


def plot_validation(runs: Sequence[tuple[str, RunMetrics]], out: Path) -> Path:
    """Several runs: validation loss against tokens trained, one line per run."""
    figure, axes = _figure()
    for index, (name, metrics) in enumerate(runs):
        # Line styles differ too, so that runs with equal curves stay visible on each other.
        axes.plot([p.tokens for p in metrics.validation], [p.value for p in metrics.validation],
                  marker="o", markersize=3, label=name, linestyle=LINE_STYLES[index % len(LINE_STYLES)])
    return _save(figure, axes, "validation loss", out)


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE_INCHES, dpi=DPI)
    FigureCanvasAgg(figure)  # no pyplot, no global backend: the Agg canvas draws the PNG
    return figure, figure.add_subplot()


def _save(figure, axes, title: str, out: Path) -> Path:
    axes.set_title(title)
    axes.set_xlabel("tokens trained")
    axes.set_ylabel("loss (nats/token)")
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend()
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as file:
        figure.savefig(file, format="png")
    return out
