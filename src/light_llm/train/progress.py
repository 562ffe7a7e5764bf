"""What a run shows: a rich progress bar (or plain lines when the output is not a terminal)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class TrainingProgress:
    """Step, loss, tokens/s, learning rate and ETA; silent on ranks other than 0."""

    def __init__(self, total_steps: int, start_step: int, console: Console, enabled: bool, every: int):
        self.console = console
        self.enabled = enabled
        self.every = every
        self.total_steps = total_steps
        self.bar = None
        if enabled and console.is_terminal:
            self.bar = Progress(
                TextColumn("step"),
                MofNCompleteColumn(),
                BarColumn(),
                TextColumn("loss {task.fields[loss]}  {task.fields[speed]} tok/s  lr {task.fields[lr]}"),
                TimeRemainingColumn(),
                console=console,
            )
            self.task = self.bar.add_task("train", total=total_steps, completed=start_step, loss="-", speed="-", lr="-")

    def __enter__(self) -> "TrainingProgress":
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def step(self, step: int, loss: float, tokens_per_second: float, lr: float) -> None:
        if not self.enabled:
            return
        fields = {"loss": f"{loss:.4f}", "speed": f"{tokens_per_second:,.0f}", "lr": f"{lr:.2e}"}
        if self.bar is not None:
            self.bar.update(self.task, completed=step, **fields)
        elif step % self.every == 0 or step == self.total_steps:
            self.console.print(
                f"step {step}/{self.total_steps}  loss {fields['loss']}  {fields['speed']} tok/s  lr {fields['lr']}",
                highlight=False,
            )

    def note(self, text: str) -> None:
        if self.enabled:
            self.console.print(text, highlight=False)
