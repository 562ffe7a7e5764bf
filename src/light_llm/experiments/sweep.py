"""`lightllm sweep SPEC --grid KEY=V1,V2 ... --out DIR`: one run per combination of the
grid values, trained one after another, each a normal run folder under DIR named from
its combination (`DIR/variant-mha_encoding-rope`), which `lightllm train --resume`
continues.

Running the same sweep again continues where it stopped: finished runs are skipped, a run
with checkpoints resumes from its newest one (metrics.jsonl and the TensorBoard events
drop the records past it), and a run that never reached a checkpoint starts over. A
combination whose spec is invalid is reported with its error and the others still run.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from light_llm.schemas.errors import SpecError, SpecIssue
from light_llm.schemas.overrides import Override, parse_override

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


@dataclass(frozen=True)
class GridAxis:
    path: tuple[str, ...]
    values: tuple[Override, ...]


@dataclass(frozen=True)
class Combination:
    name: str
    overrides: tuple[Override, ...]


def parse_grid(text: str) -> GridAxis:
    """`model.attention.variant=mha,gqa` → one override per value (values are YAML; no commas)."""
    key, separator, values = text.partition("=")
    choices = [value.strip() for value in values.split(",")]
    if not separator or not all(choices):
        raise SpecError(
            "--grid",
            [SpecIssue((), f"{text!r}: expected KEY=V1,V2,... e.g. model.attention.variant=mha,gqa,complex")],
        )
    overrides = tuple(parse_override(f"{key}={value}") for value in choices)
    return GridAxis(overrides[0].path, overrides)


def combinations(axes: Sequence[GridAxis]) -> list[Combination]:
    """Every combination, in grid order, each named by its values."""
    labels = _short_keys([axis.path for axis in axes])
    found = []
    for chosen in itertools.product(*(axis.values for axis in axes)):
        parts = [f"{label}-{_value_text(override)}" for label, override in zip(labels, chosen)]
        found.append(Combination(_UNSAFE.sub("_", "_".join(parts)) or "run", tuple(chosen)))
    names = [combination.name for combination in found]
    if len(set(names)) != len(names):
        raise SpecError("--grid", [SpecIssue((), "two combinations get the same run folder name; "
                                             "give each grid key distinct values")])
    return found


def _short_keys(paths: Sequence[tuple[str, ...]]) -> list[str]:
    """The shortest dotted tail of each key that tells the keys apart."""
    for length in range(1, max((len(path) for path in paths), default=1) + 1):
        tails = [".".join(path[-length:]) for path in paths]
        if len(set(tails)) == len(tails):
            return tails
    return [".".join(path) for path in paths]


def _value_text(override: Override) -> str:
    return str(override).partition("=")[2]


@dataclass(frozen=True)
class RunState:
    finished: bool
    resume: bool
    step: int


def run_state(run: Path, steps: int) -> RunState:
    """finished: the model folder is written at `steps`; resume: it has a checkpoint."""
    from light_llm.train.checkpoint import checkpoint_steps

    saved = checkpoint_steps(run) if run.is_dir() else []
    step = saved[-1][0] if saved else 0
    return RunState(finished=step >= steps and (run / "model.safetensors").is_file(), resume=bool(saved), step=step)


@dataclass(frozen=True)
class SweepRun:
    combination: Combination
    path: Path
    status: str  # trained, skipped, invalid, failed, interrupted
    message: str = ""


def run_sweep(
    spec_path: Path,
    axes: Sequence[GridAxis],
    overrides: Sequence[Override],
    out: Path,
    *,
    console,
    tensorboard: bool = True,
) -> list[SweepRun]:
    """Train every combination that is not finished; stops after an interrupted run."""
    from light_llm.errors import LightLLMError
    from light_llm.schemas.overrides import load_spec_with_overrides
    from light_llm.train.errors import TrainingError
    from light_llm.train.trainer import Trainer

    done: list[SweepRun] = []
    for combination in combinations(axes):
        run = out / combination.name
        described = " ".join(override.describe() for override in combination.overrides)
        try:
            spec = load_spec_with_overrides(spec_path, [*overrides, *combination.overrides])
        except SpecError as error:
            done.append(SweepRun(combination, run, "invalid", str(error)))
            console.print(f"[bold]{combination.name}[/bold]: invalid spec, skipped\n{error}", highlight=False)
            continue
        state = run_state(run, spec.train.steps)
        if state.finished and (changed := _changed_section(run, spec)):
            message = (f"{run} was trained with another {changed} section ({run / 'spec.resolved.json'}); "
                       "delete it or choose another --out")
            done.append(SweepRun(combination, run, "failed", message))
            console.print(f"[bold]{combination.name}[/bold]: failed: {message}", highlight=False)
            continue
        if state.finished:
            done.append(SweepRun(combination, run, "skipped", f"finished at step {state.step}"))
            console.print(f"[bold]{combination.name}[/bold]: finished at step {state.step}, skipped", highlight=False)
            continue
        action = f"resuming at step {state.step}" if state.resume else "training"
        console.rule(combination.name)
        console.print(f"[bold]{combination.name}[/bold]: {action} ({described})", highlight=False)
        try:
            summary = Trainer(spec, run, resume=state.resume, console=console, tensorboard=tensorboard).train()
        except (TrainingError, LightLLMError, OSError) as error:
            done.append(SweepRun(combination, run, "failed", str(error)))
            console.print(f"[bold]{combination.name}[/bold]: failed: {error}", highlight=False)
            continue
        if summary.interrupted:
            done.append(SweepRun(combination, run, "interrupted", f"checkpoint at step {summary.steps}"))
            break
        done.append(SweepRun(combination, run, "trained", f"steps {summary.start_step}→{summary.steps}"))
    return done


def _changed_section(run: Path, spec) -> str | None:
    """'model' or 'data' where the finished run's resolved spec differs from `spec`."""
    import json

    from light_llm.compiler.resolve import resolve_spec
    from light_llm.schemas.spec import Spec

    saved = Spec.model_validate(json.loads((run / "spec.resolved.json").read_text()))
    wanted = resolve_spec(spec)
    return next((section for section in ("model", "data") if getattr(saved, section) != getattr(wanted, section)), None)
