"""A run's metrics.jsonl, one JSON object per step or validation: written as training goes,
read back as the training curve and the validation points, each placed at the number of
tokens trained so far."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from light_llm.atomic_file import write_atomically
from light_llm.errors import LightLLMError

METRICS_FILE = "metrics.jsonl"


class RunReadError(LightLLMError):
    """A run folder whose files cannot be read."""


@dataclass(frozen=True)
class Point:
    step: int
    tokens: int
    value: float


@dataclass(frozen=True)
class RunMetrics:
    losses: tuple[Point, ...]
    validation: tuple[Point, ...]
    tokens_per_second: tuple[float, ...]
    wall_seconds: float | None  # None: written before metrics recorded wall time

    @property
    def steps(self) -> int:
        return self.losses[-1].step if self.losses else 0

    @property
    def tokens(self) -> int:
        return self.losses[-1].tokens if self.losses else 0

    @property
    def final_validation(self) -> float | None:
        return self.validation[-1].value if self.validation else None

    @property
    def best_validation(self) -> float | None:
        return min(point.value for point in self.validation) if self.validation else None

    @property
    def median_tokens_per_second(self) -> float | None:
        speeds = sorted(self.tokens_per_second)
        return speeds[len(speeds) // 2] if speeds else None


class MetricsLog:
    """Appends records to RUN/metrics.jsonl. A resumed run first drops the records after
    its checkpoint (they were written by the steps it repeats)."""

    def __init__(self, run: Path, resume_step: int):
        self.path = run / METRICS_FILE
        kept = [line for line in self._lines() if json.loads(line)["step"] <= resume_step]
        write_atomically(self.path, "".join(line + "\n" for line in kept))
        self.file = self.path.open("a")

    def write(self, record: dict) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()

    def _lines(self) -> list[str]:
        if not self.path.is_file():
            return []
        return [line for line in self.path.read_text().splitlines() if line.strip()]


def read_metrics(run: Path) -> RunMetrics:
    """Parse RUN/metrics.jsonl; raises RunReadError naming the file and line."""
    path = run / METRICS_FILE
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise RunReadError(f"{run}: no {METRICS_FILE}; is it a run folder of `lightllm train`?") from None
    except OSError as error:
        raise RunReadError(f"{path}: cannot read: {error.strerror or error}") from None
    tokens_at: dict[int, int] = {}
    losses, validation, speeds, wall = [], [], [], None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            step = int(record["step"])
        except (ValueError, KeyError, TypeError):
            raise RunReadError(f"{path}, line {number}: not a metrics record (JSON with a 'step')") from None
        if "loss" in record:
            tokens_at[step] = int(record["tokens"])
            losses.append(Point(step, tokens_at[step], float(record["loss"])))
            speeds.append(float(record["tokens_per_s"]))
            wall = record.get("wall_s", wall)
        if "val_loss" in record and math.isfinite(record["val_loss"]):
            validation.append(Point(step, tokens_at.get(step, 0), float(record["val_loss"])))
    return RunMetrics(tuple(losses), tuple(validation), tuple(speeds), wall)
