"""What every `export_X(folder, out_dir, **options)` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from light_llm.errors import ExportError
from light_llm.exports.parity import ParityReport


@dataclass
class ExportResult:
    target: str  # "onnx", "torchscript", "pt2", "aoti", "hf"
    out_dir: Path  # the finished export folder
    files: list[str]  # names of the files written into out_dir
    parity: ParityReport | None  # None only where a target has nothing to compare
    notes: list[str] = field(default_factory=list)  # what a user should know (skipped files, ...)
    phases: list[dict] = field(default_factory=list)  # exports/phases.py: name, seconds, peak_memory_mb

    def __post_init__(self) -> None:
        from light_llm.staging import MARKER

        # listed from the staging folder: its marker is not published
        self.files = [name for name in self.files if name != MARKER]


class ParityError(ExportError):
    """The exported artifact disagrees with eager PyTorch; carries the report."""

    def __init__(self, message: str, report: ParityReport):
        super().__init__(message)
        self.report = report
