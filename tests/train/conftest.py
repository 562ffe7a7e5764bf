"""Fixtures of the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def text_corpus(tmp_path: Path) -> Path:
    """A small folder of text files."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for index in range(4):
        lines = [f"line {line} of document {index}: the quick brown fox jumps over the lazy dog\n" for line in range(60)]
        (folder / f"doc{index}.txt").write_text("".join(lines))
    return folder
