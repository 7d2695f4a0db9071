"""Builds the tutorial pages in docs/tutorials/ by running the scripts in experiments/tutorials/.

A tutorial is an ordinary Python script (``python experiments/tutorials/01_neurons.py`` runs it).
Its module docstring gives the page's title (first line) and introduction; ``# %%`` lines split
the rest into cells. A cell's leading comment lines are the prose, the code after them is shown
and run, and what it prints is shown below it. Every cell runs in one namespace, in order, so a
page shows exactly what the script does.

    python experiments/build_tutorials.py            # rewrite docs/tutorials/*.md
    python experiments/build_tutorials.py --check    # exit 1 if a page is out of date

``--check`` (which the test suite runs) compares the text exactly but for spacing and numbers, and
the numbers with a tolerance, so that rounding noise that differs between machines does not count
as a change: plain numbers to 1% (or 1e-6), numbers in scientific notation (the pages print error
sizes that way) to a factor of 10, or both below 1e-6.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import io
import math
import re
import sys
from pathlib import Path

import jax

from jaxnn.checkpoint import write_atomic

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "experiments" / "tutorials"
PAGES = ROOT / "docs" / "tutorials"
CELL = "# %%"
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def scripts() -> list[Path]:
    """The tutorial scripts, in the order of their file names."""
    return sorted(SCRIPTS.glob("[0-9]*.py"))


def _cells(body: str) -> list[tuple[str, str]]:
    """``(prose, code)`` for each ``# %%`` cell of the script after its docstring."""
    cells = []
    for chunk in re.split(rf"^{re.escape(CELL)}[^\n]*\n", body, flags=re.M)[1:]:
        lines = chunk.strip("\n").splitlines()
        prose = []
        while lines and (lines[0] == "#" or lines[0].startswith("# ")):
            prose.append(lines.pop(0)[2:])
        cells.append(("\n".join(prose).strip(), "\n".join(lines).strip("\n")))
    return cells


def build_page(script: Path) -> str:
    """Runs ``script`` cell by cell and returns its Markdown page."""
    source = script.read_text()
    module = ast.parse(source)
    docstring = ast.get_docstring(module)
    if docstring is None or not module.body:
        raise ValueError(f"build_tutorials: {script.name} must start with a docstring (its title).")
    title, _, intro = docstring.partition("\n")
    end = module.body[0].end_lineno or 0
    body = "\n".join(source.splitlines()[end:]) + "\n"
    relative = script.relative_to(ROOT).as_posix()
    parts = [
        f"# {title.strip()}",
        f"<!-- Generated from {relative} by `python experiments/build_tutorials.py`: edit the "
        "script, not this page. -->",
        f"Run it yourself: `python {relative}`. The output below is what it printed when this page "
        "was built.",
    ]
    if intro.strip():
        parts.append(intro.strip())
    namespace = {"__name__": "__tutorial__", "__file__": str(script)}
    with jax.numpy_rank_promotion("allow"):  # a user's default, whatever the caller configured
        parts += _run_cells(_cells(body), namespace, script.name)
    return "\n\n".join(parts) + "\n"


def _run_cells(cells: list[tuple[str, str]], namespace: dict, name: str) -> list[str]:
    parts = []
    for i, (prose, code) in enumerate(cells):
        if prose:
            parts.append(prose)
        if not code.strip():
            continue
        parts.append(f"```python\n{code}\n```")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"{name} (cell {i + 1})", "exec"), namespace)  # noqa: S102
        if out.getvalue().strip():
            parts.append(f"```text\n{out.getvalue().rstrip()}\n```")
    return parts


def _close(a: str, b: str) -> bool:
    x, y = float(a), float(b)
    if "e" in a.lower() or "e" in b.lower():  # an error size: its order of magnitude matters
        if max(abs(x), abs(y)) <= 1e-6:
            return True
        return x * y > 0 and abs(math.log10(abs(x)) - math.log10(abs(y))) <= 1
    return math.isclose(x, y, rel_tol=1e-2, abs_tol=1e-6)


def _shape(text: str) -> str:
    return re.sub(r"\s+", " ", _NUMBER.sub("#", text)).strip()


def same_page(built: str, stored: str) -> bool:
    """Whether two builds agree: the same text but for spacing, numbers as the module says."""
    if _shape(built) != _shape(stored):
        return False
    numbers = (_NUMBER.findall(built), _NUMBER.findall(stored))
    return len(numbers[0]) == len(numbers[1]) and all(
        _close(a, b) for a, b in zip(*numbers, strict=True)
    )


def page_for(script: Path) -> Path:
    """Where the page of ``script`` goes: docs/tutorials/<name>.md."""
    return PAGES / f"{script.stem}.md"


def main(argv: list[str] | None = None) -> int:
    """Builds (or with ``--check`` verifies) every page; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a page is out of date")
    parser.add_argument("names", nargs="*", help="only these scripts (file stems)")
    args = parser.parse_args(argv)
    chosen = [s for s in scripts() if not args.names or s.stem in args.names]
    stale = []
    for script in chosen:
        built, page = build_page(script), page_for(script)
        if args.check:
            stored = page.read_text() if page.exists() else ""
            if not same_page(built, stored):
                stale.append(page)
                sys.stdout.writelines(
                    difflib.unified_diff(
                        stored.splitlines(True), built.splitlines(True), str(page), "built"
                    )
                )
        else:
            write_atomic(page, built.encode())
            print(f"wrote {page.relative_to(ROOT)}")
    if stale:
        print(
            f"out of date: {', '.join(p.name for p in stale)}; run experiments/build_tutorials.py"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
