"""Numbers for people: counts and byte sizes with a unit prefix."""

from __future__ import annotations


def human(count: float, unit: str = "") -> str:
    """1234567 → '1.23M'; bytes with unit 'B' → '1.18 MiB'."""
    if unit == "B":
        for suffix in ("B", "KiB", "MiB", "GiB"):
            if abs(count) < 1024 or suffix == "GiB":
                return f"{count:.0f} B" if suffix == "B" else f"{count:.2f} {suffix}"
            count /= 1024
    for suffix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(count) >= scale:
            return f"{count / scale:.2f}{suffix}"
    return f"{count:.0f}"


def shorten(text: str, limit: int) -> str:
    """`text` cut in the middle to at most `limit` characters: 'abcdef…uvwxyz'."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head):]


def error_line(error: BaseException) -> str:
    """'Type: first line', with the innermost cause appended where there is one (a wrapped
    compiler error): 'BackendCompilerFailed: … ← RuntimeError: no C++ compiler'."""
    def line(raised: BaseException) -> str:
        first = (str(raised).strip().splitlines() or [""])[0]
        return f"{type(raised).__name__}: {first}"

    cause = error
    while cause.__cause__ is not None or getattr(cause, "inner_exception", None) is not None:
        cause = cause.__cause__ or cause.inner_exception
    return line(error) if cause is error else f"{line(error)} ← {line(cause)}"
