"""Single files written atomically, the one-file counterpart of staging.py's folders:
the content goes into a hidden temporary file in the same folder, is flushed and
synced to disk, and replaces the target in one rename. Readers see the old file or
the new one, never half of it; on any failure (or KeyboardInterrupt) the temporary
file is removed and the target is left as it was.

The file gets the permissions a plain `open(path, "w")` would give it (0666 less the
umask; an existing target keeps its own mode), not the 0600 of `tempfile.mkstemp`.
"""

from __future__ import annotations

import os
import secrets
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from light_llm.staging import sync_folder


@contextmanager
def atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """A binary file to write `path`'s new content into; it replaces `path` when the
    block ends without an error."""
    path = Path(path)
    temporary, descriptor = _create_beside(path)
    try:
        with os.fdopen(descriptor, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        if path.exists():
            os.chmod(temporary, stat.S_IMODE(path.stat().st_mode))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def write_atomically(path: Path, content: bytes | str) -> None:
    """`path` holds `content` (text is written as UTF-8), or is left as it was."""
    with atomic_file(path) as file:
        file.write(content.encode() if isinstance(content, str) else content)


def _create_beside(path: Path) -> tuple[Path, int]:
    # os.open with mode 0666 lets the umask decide, as open() does
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return temporary, os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
