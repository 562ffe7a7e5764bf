"""AOTInductor: an ExportedProgram compiled ahead of time into a shared library, packaged
as `model.aoti.pt2`. `torch._inductor.aoti_load_package(path)` returns a callable with the
program's positional inputs and outputs (and libtorch's AOTIModelPackageLoader runs it
from C++). Compiling calls the C++ compiler: tens of seconds even for a tiny model."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Callable

import torch

PACKAGE_FILE = "model.aoti.pt2"


def compile_package(program: torch.export.ExportedProgram, folder: Path) -> tuple[str, float]:
    """Compiles `program` into folder/model.aoti.pt2; returns the file name and the
    compile time in seconds."""
    import torch._inductor

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch._inductor.aoti_compile_and_package(program, package_path=str(folder / PACKAGE_FILE))
    return PACKAGE_FILE, time.perf_counter() - start


def load_package(folder: Path) -> Callable[..., tuple[torch.Tensor, ...]]:
    import torch._inductor

    runner = torch._inductor.aoti_load_package(str(Path(folder) / PACKAGE_FILE))
    return lambda *tensors: tuple(runner(*tensors))
