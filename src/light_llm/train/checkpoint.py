"""Checkpoints: `RUN/checkpoints/step_XXXXXX/`, each also a model folder.

    model.safetensors       weights (tied weights once), loadable like a compiled folder
    optimizer.safetensors   AdamW moments and step counts, keyed `<parameter>/<name>`
    trainer_state.json      step, tokens seen, data sampler and torch RNG states,
                            optimizer hyper-parameters (plain JSON, no pickle)
    spec.resolved.json      the resolved spec
    tokenizer.json          the tokenizer

A checkpoint is written into a hidden temporary folder and renamed into place only when
complete, so an interrupted write never hides or replaces the previous good one. Only
the newest `keep` are kept.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from light_llm.model_folder import SPEC_FILE, TOKENIZER_FILE, WEIGHTS_FILE
from light_llm.permissions import make_readable
from light_llm.train.errors import TrainingError

CHECKPOINTS = "checkpoints"
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "trainer_state.json"
_NAME = re.compile(r"^step_(\d{6,})$")
_STAGING_PREFIX = ".writing-"


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
    folder = run / CHECKPOINTS
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(folder)
    final = folder / f"step_{step:06d}"
    if final.exists():
        return final  # this step is already saved (a run stopped right after a checkpoint)
    staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{final.name}-", dir=folder))
    try:
        save_file(_contiguous(model_state), str(staging / WEIGHTS_FILE), metadata={"format": "pt"})
        tensors, groups = _flatten_optimizer(optimizer_state)
        save_file(tensors, str(staging / OPTIMIZER_FILE))
        state = dict(trainer_state, step=step, optimizer_param_groups=groups)
        (staging / STATE_FILE).write_text(json.dumps(state, indent=1) + "\n")
        (staging / SPEC_FILE).write_text(spec_json + "\n")
        (staging / TOKENIZER_FILE).write_text(tokenizer_json)
        make_readable(staging)
        _sync_folder_files(staging)
        os.rename(staging, final)
        _sync(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for _, old in checkpoint_steps(run)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


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


def _remove_stale_staging(folder: Path) -> None:
    """Folders of writes that never finished (the process was killed mid-write)."""
    for path in folder.glob(f"{_STAGING_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)


def _sync_folder_files(folder: Path) -> None:
    for path in folder.iterdir():
        with path.open("rb") as file:
            os.fsync(file.fileno())
    _sync(folder)


def _sync(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
