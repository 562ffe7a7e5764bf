"""The training text: the `data.corpus` sources read into documents, in a fixed order.

Sources: `stdlib` (the Python standard library's own .py files, sorted by path), files,
folders (every non-hidden text file below, sorted), globs, and .jsonl files (the `text`
field of each line). Reading stops at `max_corpus_bytes` (UTF-8), cutting the last
document. The fingerprint hashes the text read, so a changed corpus is noticed.

Text must be UTF-8: a file of yours that is not is refused, naming the first bad byte and
counting the bad bytes, rather than trained on with replacement characters (files with
NUL bytes inside a folder are taken for binary and skipped). The `stdlib` corpus is the
exception: the standard library's few test files in other encodings (test/encoded_modules)
are read with U+FFFD for the bytes UTF-8 cannot decode, so the default corpus never fails.
"""

from __future__ import annotations

from light_llm.train.errors import TrainingError

import glob
import hashlib
import json
import re
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from light_llm.schemas.data import DataConfig

STDLIB = "stdlib"
_GLOB_CHARACTERS = set("*?[")
_BINARY_PROBE_BYTES = 8192


class CorpusError(TrainingError):
    """A corpus source that is missing, unreadable or holds no text."""


@dataclass(frozen=True)
class Corpus:
    documents: list[str]
    fingerprint: str
    num_bytes: int


def read_corpus(data: DataConfig) -> Corpus:
    """Every document of `data.corpus`, capped at `data.max_corpus_bytes`."""
    sources = [data.corpus] if isinstance(data.corpus, str) else list(data.corpus)
    if not sources:
        raise CorpusError("data.corpus: the list of sources is empty; name at least one")
    limit = data.max_corpus_bytes
    documents: list[str] = []
    digest = hashlib.sha256()
    total = 0
    for text in _documents(sources):
        encoded = text.encode("utf-8")
        if limit is not None and total + len(encoded) > limit:
            encoded = encoded[: limit - total]
            text = encoded.decode("utf-8", errors="ignore")
        if not text:
            if limit is not None and total >= limit:
                break
            continue
        documents.append(text)
        digest.update(len(encoded).to_bytes(8, "little") + encoded)
        total += len(encoded)
    if total == 0:
        raise CorpusError(f"data.corpus: {_describe(sources)} holds no text; the corpus is empty")
    return Corpus(documents, digest.hexdigest()[:16], total)


def stdlib_files() -> list[Path]:
    """The standard library's .py files (no site-packages), sorted by relative path."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = [
        path
        for path in root.rglob("*.py")
        if "site-packages" not in path.relative_to(root).parts and path.is_file()
    ]
    return sorted(files, key=lambda path: path.relative_to(root).as_posix())


def _documents(sources: list[str]) -> Iterator[str]:
    for source in sources:
        strict = source != STDLIB
        for path in _source_files(source):
            if path.suffix == ".jsonl":
                yield from _jsonl_texts(path)
            else:
                yield _read_text(path, strict)


def _source_files(source: str) -> list[Path]:
    if source == STDLIB:
        return stdlib_files()
    if _GLOB_CHARACTERS & set(source):
        matches = sorted(Path(match) for match in glob.glob(source, recursive=True))
        files = [path for path in matches if path.is_file()]
        if not files:
            raise CorpusError(f"data.corpus: the pattern {source!r} matches no files")
        return files
    path = Path(source)
    if path.is_file():
        return [path]
    if path.is_dir():
        return _folder_files(path)
    raise CorpusError(f"data.corpus: {source}: no such file or folder")


def _folder_files(folder: Path) -> list[Path]:
    files = [
        path
        for path in folder.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]
    return [path for path in sorted(files) if not _looks_binary(path)]


def _looks_binary(path: Path) -> bool:
    with path.open("rb") as file:
        return b"\0" in file.read(_BINARY_PROBE_BYTES)


def _read_text(path: Path, strict: bool = True) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CorpusError(f"data.corpus: {path}: cannot read ({error.strerror})") from None
    if not strict:
        return data.decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = _undecodable(data)
        raise CorpusError(
            f"data.corpus: {path}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
            f"{error.start:,}; {bad:,} undecodable byte{'s' if bad != 1 else ''} in all); "
            "convert it to UTF-8, e.g. `iconv -f latin1 -t utf-8`"
        ) from None


def _undecodable(data: bytes) -> int:
    """How many bytes UTF-8 cannot decode (each becomes one lone surrogate here)."""
    return len(re.findall("[\udc80-\udcff]", data.decode("utf-8", errors="surrogateescape")))


def _jsonl_texts(path: Path) -> Iterator[str]:
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise CorpusError(f"data.corpus: {path}:{number}: not JSON ({error.msg})") from None
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str):
            raise CorpusError(
                f"data.corpus: {path}:{number}: each line must be an object with a string "
                "'text' field"
            )
        yield text


def _describe(sources: list[str]) -> str:
    return ", ".join(repr(source) for source in sources)
