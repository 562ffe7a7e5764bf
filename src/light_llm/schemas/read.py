"""Reading a spec file into plain data: size limit, text decoding, JSON or YAML parsing.

Every failure is a one-line `SpecError`. Nesting depth is checked on the text before it
is parsed, so a pathological file (say JSON nested 10,000 deep) never reaches the
recursive parts of the parsers.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml

from light_llm.schemas.errors import unreadable

MAX_SPEC_BYTES = 1024 * 1024
"""Spec files larger than this (1 MiB) are refused before they are read; real specs are
a few hundred bytes."""

MAX_DEPTH = 32
"""Deepest nesting of mappings and lists accepted; a spec needs about four levels."""

JSON_SUFFIXES = {".json"}
YAML_SUFFIXES = {".yaml", ".yml"}

_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def read_spec_file(path: str | os.PathLike[str]) -> object:
    """The data in a JSON or YAML spec file (not yet validated)."""
    source = str(path)
    text = _decode(source, _read_bytes(Path(path)))
    if not text.strip():
        raise unreadable(source, "file is empty; a spec needs at least a 'model' section")
    if _is_json(Path(path), text):
        return _parse_json(source, text)
    return _parse_yaml(source, text)


def _read_bytes(path: Path) -> bytes:
    source = str(path)
    try:
        if path.is_dir():
            raise unreadable(
                source, "is a directory, not a spec file (pass files, e.g. dir/*.yaml)"
            )
        size = path.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise unreadable(source, _too_large(size))
        with path.open("rb") as handle:
            # Read one byte past the limit: special files report a size of 0.
            data = handle.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise unreadable(source, "no such file") from None
    except PermissionError:
        raise unreadable(source, "permission denied") from None
    except OSError as error:
        raise unreadable(source, f"cannot read: {error.strerror or error}") from None
    if len(data) > MAX_SPEC_BYTES:
        raise unreadable(source, _too_large(None))
    return data


def _too_large(size: int | None) -> str:
    actual = f"{size:,} bytes" if size is not None else f"over {MAX_SPEC_BYTES:,} bytes"
    return f"file is too large for a spec ({actual}; specs are limited to {MAX_SPEC_BYTES:,} bytes)"


def _decode(source: str, data: bytes) -> str:
    if b"\x00" in data:
        raise unreadable(
            source, f"binary data (a NUL byte at offset {data.index(0)}), not a JSON or YAML spec"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        bad = data[error.start]
        raise unreadable(
            source,
            f"not UTF-8 text (byte 0x{bad:02x} at offset {error.start}); a spec is JSON or YAML",
        ) from None


def _is_json(path: Path, text: str) -> bool:
    suffix = path.suffix.lower()
    if suffix in JSON_SUFFIXES or suffix in YAML_SUFFIXES:
        return suffix in JSON_SUFFIXES
    return text.lstrip()[:1] in ("{", "[")


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _too_deep(line: int, column: int) -> str:
    return f"nested deeper than {MAX_DEPTH} levels at line {line}, column {column}"


def _parse_json(source: str, text: str) -> object:
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        opener = token.group()[0]
        if opener in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise unreadable(source, _too_deep(*_line_column(text, token.start())))
        elif opener in "]}":
            depth -= 1
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except json.JSONDecodeError as error:
        raise unreadable(
            source, f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except _DuplicateKey as error:
        raise unreadable(
            source, f"invalid JSON: key {error.key!r} appears twice in one object"
        ) from None


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        self.key = key
        super().__init__(key)


def _reject_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _parse_yaml(source: str, text: str) -> object:
    try:
        _scan_yaml_events(source, text)
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = (
            ", ".join(part for part in (error.context, error.problem) if part) or "cannot be parsed"
        )
        raise unreadable(source, f"invalid YAML{where}: {problem}") from None
    except yaml.YAMLError as error:
        raise unreadable(source, f"invalid YAML: {error}") from None


def _scan_yaml_events(source: str, text: str) -> None:
    """Check depth and duplicate keys on PyYAML's event stream, which is produced without
    recursion (the composer that builds the data recurses once per nesting level)."""
    # One frame per open collection: the keys seen so far (None for a sequence) and
    # whether the next node in a mapping is a key.
    frames: list[tuple[set[str] | None, list[bool]]] = []
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            frames.pop()
        if not isinstance(event, yaml.NodeEvent):
            continue
        if frames and frames[-1][0] is not None:
            keys, expect_key = frames[-1]
            if expect_key[0] and isinstance(event, yaml.ScalarEvent) and event.value != "<<":
                if event.value in keys:
                    mark = event.start_mark
                    raise unreadable(
                        source,
                        f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: "
                        f"key {event.value!r} appears twice in one mapping",
                    )
                keys.add(event.value)
            expect_key[0] = not expect_key[0]
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(frames) >= MAX_DEPTH:
                mark = event.start_mark
                raise unreadable(source, _too_deep(mark.line + 1, mark.column + 1))
            is_mapping = isinstance(event, yaml.MappingStartEvent)
            frames.append((set() if is_mapping else None, [True]))
