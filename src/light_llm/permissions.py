"""Folders staged with `tempfile.mkdtemp` (mode 0700) and files written by safetensors
(0600) are private; what light_llm publishes is readable by everyone, like any file the
user writes."""

from pathlib import Path


def make_readable(folder: Path) -> None:
    """Give `folder` mode 0755 and every file below it 0644 (sub-folders 0755)."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
