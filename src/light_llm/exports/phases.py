"""The phases of an export: each one's wall time and peak resident memory, recorded for
light_llm.json and the export output, and shown while it runs (a `PhaseDisplay`, e.g.
the CLI's rich progress bar; none by default).

The peak of a phase is the largest resident memory of the process seen while it ran,
sampled every few milliseconds (Linux /proc/self/statm; a spike shorter than that can be
missed), together with the process's high-water mark so far (getrusage's ru_maxrss, which
the kernel keeps exactly; resetting it per phase would falsify a parent's wait4 figures).
Elsewhere than Linux the sampled peak is the high-water mark so far.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol

STATM = Path("/proc/self/statm")
SAMPLE_SECONDS = 0.005


class PhaseDisplay(Protocol):
    def start(self, name: str, total: int | None) -> None: ...
    def advance(self, name: str, done: int, total: int | None) -> None: ...
    def finish(self, record: "PhaseRecord") -> None: ...


@dataclass
class PhaseRecord:
    name: str
    seconds: float
    peak_memory_mb: float  # the largest resident memory sampled during the phase, MiB (2**20 bytes)
    process_peak_mb: float  # the process's resident high-water mark at the phase's end

    def to_dict(self) -> dict:
        return asdict(self)


class Phases:
    def __init__(self, display: PhaseDisplay | None = None):
        self.display = display
        self.records: list[PhaseRecord] = []
        self._current: tuple[str, float] | None = None
        self._sampler: _Sampler | None = None

    @contextmanager
    def phase(self, name: str, total: int | None = None) -> Iterator[Callable[..., None]]:
        """Times the block; yields `advance(done, total=None)` for a phase of `total`
        steps (layers, weights: given here or as the phase learns it) to show how far
        it is."""
        advance = self.start(name, total)
        yield advance
        self.stop()

    def start(self, name: str, total: int | None = None) -> Callable[..., None]:
        """Ends the phase under way, if any, and starts `name` (see `phase`)."""
        self.stop()
        release_free_memory()
        self._sampler = _Sampler()
        if self.display:
            self.display.start(name, total)
        self._current = (name, time.perf_counter())
        return (lambda done, total=total: self.display.advance(name, done, total)) if self.display else _ignore

    def stop(self) -> None:
        if self._current is None:
            return
        name, start = self._current
        seconds = time.perf_counter() - start
        peak = self._sampler.stop()
        record = PhaseRecord(name, round(seconds, 3), round(peak, 1), round(_process_peak_mb(), 1))
        self.records.append(record)
        self._current = None
        if self.display:
            self.display.finish(record)

    def to_list(self) -> list[dict]:
        return [record.to_dict() for record in self.records]

    def summary(self) -> str:
        return ", ".join(f"{r.name} {r.seconds:.1f} s ({r.peak_memory_mb * 2**20 / 1e9:.2f} GB)" for r in self.records)


def _ignore(done: int, total: int | None = None) -> None:
    pass


def release_free_memory() -> None:
    """Hands the C heap's free pages back to the system (glibc's malloc_trim). Many
    tensor-sized blocks freed by one phase otherwise stay resident in the heap, and the
    next phase's peak would count them again."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class _Sampler:
    """The largest resident memory seen from now until `stop()`, on a daemon thread."""

    def __init__(self):
        self.peak = _resident_mb()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True) if self.peak is not None else None
        if self._thread:
            self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(SAMPLE_SECONDS):
            self.peak = max(self.peak, _resident_mb())

    def stop(self) -> float:
        if self._thread is None:
            return _process_peak_mb()
        self._done.set()
        self._thread.join()
        return max(self.peak, _resident_mb())


def _resident_mb() -> float | None:
    try:
        return int(STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024**2
    except (OSError, ValueError, IndexError):
        return None


def _process_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
