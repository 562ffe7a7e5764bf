"""Checkpoints: `RUN/checkpoints/step_XXXXXX/`, each also a model folder.

    model.safetensors       weights (tied weights once), loadable like a compiled folder
    optimizer.safetensors   AdamW moments and step counts, keyed `<parameter>/<name>`
    trainer_state.json      step, tokens seen, data sampler and torch RNG states,
                            the GEMM library chosen per product shape (training_matmul),
                            optimizer hyper-parameters (plain JSON, no pickle)
    spec.resolved.json      the resolved spec
    tokenizer.json          the tokenizer

A checkpoint is written into a staging folder (light_llm/staging.py), synced and renamed
into place only when complete, so an interrupted write never hides or replaces the
previous good one. Only the newest `keep` are kept. `--resume` takes the newest
checkpoint that reads back whole, and says which newer ones it skipped and why.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from light_llm.model_folder import SPEC_FILE, TOKENIZER_FILE, WEIGHTS_FILE
from light_llm.staging import rename_folder, staged_folder
from light_llm.train.errors import TrainingError

CHECKPOINTS = "checkpoints"
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "trainer_state.json"
_NAME = re.compile(r"^step_(\d{6,})$")


class CheckpointError(TrainingError):
    """A checkpoint that is missing or damaged."""


@dataclass
class Checkpoint:
    path: Path
    model: dict[str, torch.Tensor]
    optimizer: dict
    state: dict

    @property
    def step(self) -> int:
        return self.state["step"]


def checkpoint_steps(run: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints of `run`, oldest first."""
    folder = run / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match and (path / STATE_FILE).is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(run: Path) -> Path | None:
    steps = checkpoint_steps(run)
    return steps[-1][1] if steps else None


def write_checkpoint(
    run: Path,
    step: int,
    *,
    model_state: dict[str, torch.Tensor],
    optimizer_state: dict,
    trainer_state: dict,
    spec_json: str,
    tokenizer_json: str,
    keep: int,
) -> Path:
    """Write the checkpoint of `step` atomically, then drop all but the newest `keep`."""
    final = run / CHECKPOINTS / f"step_{step:06d}"
    if final.exists():
        return final  # this step is already saved (a run stopped right after a checkpoint)
    with staged_folder(final, publish=rename_folder) as staging:
        save_file(_contiguous(model_state), str(staging / WEIGHTS_FILE), metadata={"format": "pt"})
        tensors, groups = _flatten_optimizer(optimizer_state)
        save_file(tensors, str(staging / OPTIMIZER_FILE))
        state = dict(trainer_state, step=step, optimizer_param_groups=groups)
        (staging / STATE_FILE).write_text(json.dumps(state, indent=1) + "\n")
        (staging / SPEC_FILE).write_text(spec_json + "\n")
        (staging / TOKENIZER_FILE).write_text(tokenizer_json)
    for _, old in checkpoint_steps(run)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def resumable_checkpoint(run: Path) -> tuple[Checkpoint | None, list[str]]:
    """The newest checkpoint of `run` that reads back whole, and a line per newer one
    skipped (its name and the damage). A skipped one is renamed `step_XXXXXX.damaged`
    (kept for a look, no longer a checkpoint), so training writes that step again.
    None where every checkpoint is damaged."""
    skipped = []
    for _, path in reversed(checkpoint_steps(run)):
        try:
            return read_checkpoint(path), skipped
        except CheckpointError as error:
            aside = path.with_name(f"{path.name}.damaged")
            shutil.rmtree(aside, ignore_errors=True)
            path.rename(aside)
            skipped.append(f"{error}; moved to {aside.name}")
    return None, skipped


def read_checkpoint(path: Path) -> Checkpoint:
    try:
        state = json.loads((path / STATE_FILE).read_text())
        model = load_file(str(path / WEIGHTS_FILE))
        optimizer = _unflatten_optimizer(load_file(str(path / OPTIMIZER_FILE)), state.pop("optimizer_param_groups"))
    except Exception as error:  # safetensors and json raise several types for damage
        raise CheckpointError(f"{path}: damaged checkpoint ({type(error).__name__}: {error})") from None
    return Checkpoint(path, model, optimizer, state)


def encode_bytes(tensor: torch.Tensor) -> str:
    """A uint8 tensor (an RNG state) as base64 text for JSON."""
    return base64.b64encode(tensor.numpy().tobytes()).decode()


def decode_bytes(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8)


def _flatten_optimizer(optimizer_state: dict) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """{'state': {param: {name: tensor}}, 'param_groups': [...]} → tensors and JSON groups."""
    tensors = {
        f"{parameter}/{name}": value.detach().reshape(value.shape).contiguous()
        for parameter, values in optimizer_state["state"].items()
        for name, value in values.items()
    }
    groups = [
        {key: list(value) if isinstance(value, tuple) else value for key, value in group.items()}
        for group in optimizer_state["param_groups"]
    ]
    return tensors, groups


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], groups: list[dict]) -> dict:
    state: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        parameter, name = key.rsplit("/", 1)
        state.setdefault(parameter, {})[name] = value
    groups = [{key: tuple(value) if key == "betas" else value for key, value in group.items()} for group in groups]
    return {"state": state, "param_groups": groups}


def _contiguous(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().contiguous() for name, tensor in state.items()}
