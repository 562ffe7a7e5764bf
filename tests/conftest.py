"""Fixtures shared by test folders."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def llama_cpp():
    """llama.cpp (llama-cpp-python) is part of the test extra: missing only where it cannot
    be built, which fails the test where a C compiler is present."""
    from light_llm.exports.llama_cpp import llama_cpp_missing

    missing = llama_cpp_missing()
    if missing is not None:
        if shutil.which("cc") or shutil.which("gcc") or shutil.which("clang"):
            pytest.fail(f"{missing}, though a C compiler is present: `pip install -e '.[test]'` builds it")
        pytest.skip(f"{missing}, and no C compiler is present to build it")
