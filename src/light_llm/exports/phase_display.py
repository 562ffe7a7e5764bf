"""The export phases on a terminal: a rich progress bar per phase (layers written,
weights quantized, tensors inlined) and one line per finished phase with its time and
peak memory; plain lines only where the output is not a terminal."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from light_llm.exports.phases import PhaseRecord


class RichPhaseDisplay:
    def __init__(self, console: Console, target: str):
        self.console, self.target = console, target
        self.bar: Progress | None = None
        self.task = None

    def start(self, name: str, total: int | None) -> None:
        if not self.console.is_terminal:
            return
        self.bar = Progress(TextColumn(f"{self.target}: {{task.description}}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=self.console, transient=True)
        self.task = self.bar.add_task(name, total=total)
        self.bar.start()

    def advance(self, name: str, done: int, total: int | None) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total)

    def finish(self, record: PhaseRecord) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        self.console.print(f"  {self.target}: {record.name}: {record.seconds:.1f} s, "
                           f"peak {record.peak_memory_mb * 2**20 / 1e9:.2f} GB", highlight=False)
