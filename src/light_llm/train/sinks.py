"""Where a run's metric records go: metrics.jsonl always, TensorBoard unless turned off.
Only the main process (rank 0) builds sinks."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from light_llm.run_logs.metrics import MetricsLog


class MetricSink(Protocol):
    def write(self, record: dict) -> None: ...

    def close(self) -> None: ...


class MetricSinks:
    """Every record to every sink."""

    def __init__(self, sinks: list[MetricSink]):
        self.sinks = sinks

    def write(self, record: dict) -> None:
        for sink in self.sinks:
            sink.write(record)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def open_sinks(run: Path, start_step: int, *, tensorboard: bool) -> MetricSinks:
    sinks: list[MetricSink] = [MetricsLog(run, start_step)]
    if tensorboard:
        from light_llm.run_logs.tensorboard import TensorBoardSink

        sinks.append(TensorBoardSink(run, start_step))
    return MetricSinks(sinks)
