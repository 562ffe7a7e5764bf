"""Staged folders: everything is written into a hidden sibling folder, synced to disk,
and moved into place only when complete, so an interrupted or failed write never leaves
a half-written folder where the finished one belongs. Export folders, model folders and
checkpoints are all written this way.

A staging folder is named `.NAME.staging-XXXXXXXX` and holds a marker file naming the
process that made it. A run killed mid-write (SIGKILL, power loss) leaves one behind;
the next staged write into the same parent removes it: only folders light_llm made
(the name and the marker both), whose process on this machine is gone. An
empty folder of that name goes too (a kill between making it and writing its marker):
removing it loses nothing.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from light_llm.errors import LightLLMError
from light_llm.permissions import make_readable

MARKER = ".light_llm-staging"
INFIX = ".staging-"

class StagingError(LightLLMError):
    """The folder to write cannot be made (read-only or missing parent, a file in the way)."""


# (complete staging folder with its marker, target) → the target in place, without the
# marker; whatever stays of the staging folder is removed afterwards
Publish = Callable[[Path, Path], None]


def replace_folder(staging: Path, target: Path) -> None:
    """`target` becomes `staging`; an earlier `target` is moved aside, then removed."""
    if target.exists():
        retired = _make_staging(target.parent, target.name)  # removed next time if we die here
        os.replace(target, retired / target.name)
        os.replace(staging, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, target)
    (target / MARKER).unlink()


def rename_folder(staging: Path, target: Path) -> None:
    """`staging` becomes `target`, which must not exist (a checkpoint is never replaced)."""
    os.rename(staging, target)
    (target / MARKER).unlink()


def merge_into_folder(staging: Path, target: Path) -> None:
    """Every file of `staging` moves into `target` (made if missing), replacing its
    namesakes and keeping the rest of `target` (a run folder's checkpoints, exports)."""
    target.mkdir(exist_ok=True)
    for item in staging.iterdir():
        if item.name != MARKER:
            os.replace(item, target / item.name)
    sync_folder(target)


@contextmanager
def staged_folder(target: Path, publish: Publish = replace_folder) -> Iterator[Path]:
    """A fresh staging folder beside `target`; when the block ends without an error its
    files are made readable, synced, and published into `target`. On any error (or
    KeyboardInterrupt) the staging folder is removed, `target` is left as it was, and
    the parent folders made for it are removed again."""
    target = Path(target)
    made = missing_ancestors(target.parent)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(target.parent)
        staging = _make_staging(target.parent, target.name)
    except OSError as error:
        remove_if_empty(made)
        raise StagingError(f"{target}: cannot write into {target.parent} ({error.strerror or error}); "
                           "choose a folder you can write to") from None
    try:
        yield staging
        make_readable(staging)
        sync_tree(staging)
        publish(staging, target)
        sync_folder(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        remove_if_empty(made)
        raise
    shutil.rmtree(staging, ignore_errors=True)


def missing_ancestors(folder: Path) -> list[Path]:
    """`folder` and its parents that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def remove_if_empty(folders: list[Path]) -> None:
    """Removes each folder (deepest first) that is empty; stops at the first that is not."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def remove_stale_staging(parent: Path) -> list[Path]:
    """Removes the staging folders in `parent` that killed runs left behind; returns them."""
    removed = []
    for path in parent.glob(f".*{INFIX}*"):
        if path.is_dir() and not path.is_symlink() and _abandoned(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _abandoned(path: Path) -> bool:
    marker = path / MARKER
    if not marker.is_file():
        return not any(path.iterdir())  # killed between making the folder and its marker
    try:
        host, pid = marker.read_text().split()
        pid_number = int(pid)
    except ValueError:
        return False  # not a marker light_llm wrote
    # another machine's process (a shared disk) cannot be checked: its folder is kept
    return host == socket.gethostname() and not _running(pid_number)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _make_staging(parent: Path, name: str) -> Path:
    staging = Path(tempfile.mkdtemp(prefix=f".{name}{INFIX}", dir=parent))
    (staging / MARKER).write_text(f"{socket.gethostname()} {os.getpid()}\n")
    return staging


def sync_tree(folder: Path) -> None:
    """fsync every file below `folder`, then the folders themselves."""
    for path in sorted(folder.rglob("*"), key=lambda p: -len(p.parts)):
        if path.is_file():
            with path.open("rb") as file:
                os.fsync(file.fileno())
        elif path.is_dir():
            sync_folder(path)
    sync_folder(folder)


def sync_folder(folder: Path) -> None:
    """fsync a folder's entry list (renames into it survive a power loss)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
