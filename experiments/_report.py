"""Writes one benchmark's section of a shared Markdown report, leaving the others as they are."""

from __future__ import annotations

from pathlib import Path

from jaxnn.checkpoint import write_atomic


def write_section(path: str | Path, key: str, text: str, title: str = "# Benchmarks") -> None:
    """Replaces the text between ``<!-- begin key -->`` and ``<!-- end key -->`` (atomically).

    The section is appended when the file or the markers do not exist yet.
    """
    path = Path(path)
    begin, end = f"<!-- begin {key} -->", f"<!-- end {key} -->"
    block = f"{begin}\n{text.strip()}\n{end}"
    old = path.read_text() if path.exists() else f"{title}\n"
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + block + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    write_atomic(path, new.encode())


def versions(names: list[str]) -> dict[str, str]:
    """Installed versions of ``names`` ("missing" for those not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    return out
