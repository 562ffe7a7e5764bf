"""A killed run leaves no debris that outlives the next run: SIGKILL at several points
of a staged write (and of a real `lightllm export`), then a normal run into the same
parent leaves only finished folders. Only folders light_llm made are removed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from onnx_fixtures import LLAMA
from torch_targets_matrix import model_folder

from light_llm.staging import MARKER, INFIX, remove_stale_staging, staged_folder

KILLED_WRITE = """
import os, signal, sys
from pathlib import Path
import light_llm.staging as staging

point, target = sys.argv[1], Path(sys.argv[2])
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
if point == "before the marker":
    staging.socket.gethostname = lambda: die()
real_replace = staging.os.replace
calls = []
def replace(source, destination):
    calls.append(destination)
    if point == "between the two renames" and len(calls) == 2:
        die()  # the earlier folder is set aside, the new one not yet in place
    real_replace(source, destination)
staging.os.replace = replace
with staging.staged_folder(target) as folder:
    (folder / "model.bin").write_bytes(b"x" * 1000)
    if point == "while writing":
        die()
    if point == "while syncing":
        staging.sync_tree = lambda folder: die()
"""

POINTS = ["before the marker", "while writing", "while syncing", "between the two renames"]


def _write(target: Path, content: bytes) -> None:
    with staged_folder(target) as folder:
        (folder / "model.bin").write_bytes(content)


@pytest.mark.parametrize("point", POINTS)
def test_a_write_killed_at_any_point_leaves_nothing_after_the_next_run(tmp_path, point):
    target = tmp_path / "out"
    _write(target, b"earlier")
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITE, point, str(target)], capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    if point != "before the marker":
        assert [path for path in tmp_path.iterdir() if INFIX in path.name]  # debris, for now
    _write(tmp_path / "other", b"next run")  # any staged write into the same parent
    assert not [path.name for path in tmp_path.iterdir() if path.name.startswith(".")]
    assert {path.name for path in tmp_path.iterdir()} in ({"out", "other"}, {"other"})
    if target.exists():  # a killed replace between its two renames loses the earlier folder
        assert [path.name for path in target.iterdir()] == ["model.bin"]
        assert (target / "model.bin").read_bytes() == b"earlier"


def test_only_folders_light_llm_made_and_abandoned_are_removed(tmp_path):
    foreign = tmp_path / f".notes{INFIX}mine"  # the name without the marker
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not light_llm's")
    alive = tmp_path / f".out{INFIX}busy"  # a write still running in this process
    alive.mkdir()
    (alive / MARKER).write_text(f"{socket.gethostname()} {os.getpid()}\n")
    elsewhere = tmp_path / f".out{INFIX}remote"  # another machine's write on a shared disk
    elsewhere.mkdir()
    (elsewhere / MARKER).write_text("another-host 1\n")
    assert remove_stale_staging(tmp_path) == []
    assert foreign.exists() and alive.exists() and elsewhere.exists()


def test_a_killed_export_leaves_no_debris_after_the_next_export(tmp_path):
    from light_llm.exports.torchscript import export_torchscript

    folder = model_folder(tmp_path / "run", LLAMA)
    parent = tmp_path / "exports"
    command = [sys.executable, "-c", "from light_llm.cli.app import main; main()", "export", str(tmp_path / "run"), "--torchscript",
               "--out", str(parent / "ts")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (parent.is_dir() and any(INFIX in path.name for path in parent.iterdir())):
        assert process.poll() is None and time.monotonic() < deadline, "the export ended before it was killed"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert [path.name for path in parent.iterdir() if INFIX in path.name]  # the debris of the kill
    export_torchscript(folder, parent / "ts")
    assert [path.name for path in parent.iterdir()] == ["ts"]
