"""TensorBoard event files of a run, next to metrics.jsonl: RUN/tensorboard/.

`tensorboard --logdir runs/` then shows every run under runs/ side by side."""

from __future__ import annotations

import math
from pathlib import Path

TENSORBOARD_DIR = "tensorboard"

TAGS: dict[str, str] = {
    "loss": "train/loss",
    "lr": "train/learning_rate",
    "grad_norm": "train/grad_norm",
    "tokens_per_s": "train/tokens_per_second",
    "val_loss": "validation/loss",
    "val_ppl": "validation/perplexity",
    "aux_loss": "train/moe_aux_loss",
    "expert_load": "train/moe_expert_load",
}
"""metrics.jsonl key → TensorBoard scalar tag."""


class TensorBoardSink:
    """Writes each metrics record's scalars at its step. Events after `start_step` that an
    interrupted process wrote (past its checkpoint) are purged, as metrics.jsonl drops them."""

    def __init__(self, run: Path, start_step: int):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(
            log_dir=str(run / TENSORBOARD_DIR), purge_step=start_step + 1
        )

    def write(self, record: dict) -> None:
        step = record["step"]
        for key, tag in TAGS.items():
            value = record.get(key)
            if value is not None and math.isfinite(value):
                self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
