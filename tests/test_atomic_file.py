"""atomic_file.py: one file replaced whole, with a plain file's permissions, and nothing
left behind when the write fails."""

import os
import stat
import subprocess
import sys
import textwrap

import pytest

from light_llm.atomic_file import atomic_file, write_atomically


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_writes_text_and_bytes(tmp_path):
    write_atomically(tmp_path / "a.txt", "héllo\n")
    write_atomically(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_a_new_file_gets_what_open_gives_under_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        write_atomically(tmp_path / "new.json", "{}")
        (tmp_path / "plain.json").write_text("{}")
    finally:
        os.umask(previous)
    assert mode(tmp_path / "new.json") == mode(tmp_path / "plain.json") == 0o644


def test_an_existing_file_keeps_its_mode(tmp_path):
    target = tmp_path / "script.sh"
    target.write_text("old")
    target.chmod(0o750)
    write_atomically(target, "new")
    assert target.read_text() == "new"
    assert mode(target) == 0o750


@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
def test_a_failed_write_leaves_the_target_and_no_temporary(tmp_path, failure):
    target = tmp_path / "report.md"
    target.write_text("old")
    with pytest.raises(failure):
        with atomic_file(target) as file:
            file.write(b"half of the new")
            raise failure()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_a_failed_write_of_a_new_file_leaves_nothing(tmp_path):
    with pytest.raises(TypeError):
        write_atomically(tmp_path / "new.txt", 3)  # not text, not bytes: the write fails
    assert list(tmp_path.iterdir()) == []


def test_a_target_that_cannot_be_replaced_leaves_no_temporary(tmp_path):
    (tmp_path / "folder").mkdir()  # a folder where the file should go: the rename fails
    with pytest.raises(OSError):
        write_atomically(tmp_path / "folder", "text")
    assert [p.name for p in tmp_path.iterdir()] == ["folder"]


def test_readers_never_see_a_partial_file(tmp_path):
    """A second process reads the target while it is rewritten in many chunks: it sees
    only the old or the new content."""
    target = tmp_path / "data.bin"
    old, new = b"a" * 1_000_000, b"b" * 1_000_000
    target.write_bytes(old)
    reader = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import pathlib, sys
        path = pathlib.Path({str(target)!r})
        seen = set()
        while True:
            content = path.read_bytes()
            seen.add((len(content), content[:1], content[-1:]))
            if content[:1] == b"b":
                break
        print(sorted(seen))
    """)], stdout=subprocess.PIPE, text=True)
    with atomic_file(target) as file:
        for start in range(0, len(new), 10_000):
            file.write(new[start:start + 10_000])
            file.flush()
    seen = reader.communicate(timeout=60)[0]
    assert seen.strip() in {"[(1000000, b'a', b'a'), (1000000, b'b', b'b')]", "[(1000000, b'b', b'b')]"}, seen


# Files that rename inside a folder staged by staging.py (the folder as a whole is the
# atomic write there), and the two helpers themselves.
RENAMES_ALLOWED = {"staging.py", "atomic_file.py", "exports/quantize.py", "exports/onnx_lowering/tensors.py"}


def test_single_files_are_written_through_the_helper_only():
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "src" / "light_llm"
    private = sorted(
        str(path.relative_to(source)) for path in source.rglob("*.py")
        if str(path.relative_to(source)) not in RENAMES_ALLOWED
        and any(call in path.read_text() for call in ("os.replace(", "os.rename(", "mkstemp(", "NamedTemporaryFile("))
    )
    assert private == [], f"write single files with light_llm.atomic_file instead: {private}"
