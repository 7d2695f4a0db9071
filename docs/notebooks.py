"""The lectures' notebooks (``notebooks/NN_*.py``): checked, executed, and rendered on the site.

A notebook is a Jupytext percent script (``# %%`` cells, ``# %% [markdown]`` prose), so a diff
reads like code and no output is ever stored. Three users of this module:

- ``make lint`` runs ``python docs/notebooks.py --check``: every notebook parses as a notebook
  with a kernel, starts with a markdown title, has code cells, stores no outputs, and no
  ``.ipynb`` file sits in ``notebooks/``.
- ``tests/test_notebooks.py`` runs each one in a real Jupyter kernel (:func:`execute`) in quick
  mode and offline, and keeps the executed notebook (:func:`store`) for the site.
- mkdocs.yml names this file under ``hooks:``; :func:`on_files` adds every notebook to the site
  as ``notebooks/<name>.ipynb``, which the mkdocs-jupyter plugin renders with its outputs. The
  site shows the notebook as the test run executed it, from ``build/docs-notebooks/<key>/``
  (keyed by a hash of the notebook, of jaxnn's source and of this file); when the test run has
  not left it there, the build executes it itself (about 2 minutes for all of them on two CPU
  cores, once per change of jaxnn or of the notebook). ``JAXNN_DOCS_NOTEBOOKS=source`` renders
  the cells without running them (and says so on the page).

Quick mode is the environment variable ``JAXNN_NOTEBOOK_QUICK=1``, which the notebooks read:
few epochs, small grids, and no download (a data set that is not on disk is replaced by a
stand-in, and the notebook says so and where to put the files). ``JAXNN_DATA`` points at an
empty folder, so a run never depends on what this machine has cached. Each notebook must finish
within :data:`BUDGET` seconds (``JAXNN_NOTEBOOK_BUDGET`` changes it); they take 3 to 17 s each.

This module imports only the standard library at the top: pytest imports every module under
``docs/`` to collect doctests.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["BUDGET", "NOTEBOOKS", "check", "execute", "notebooks", "on_files", "store"]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CACHE = ROOT / "build" / "docs-notebooks"
#: Seconds one notebook may take in quick mode, all cells together (kernel start excluded).
BUDGET = float(os.environ.get("JAXNN_NOTEBOOK_BUDGET", "90"))
_log = logging.getLogger("mkdocs.hooks.notebooks")


def notebooks() -> list[Path]:
    """The notebooks, ``notebooks/NN_*.py``, in the order of their names."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def check(paths: list[Path] | None = None) -> list[str]:
    """What is wrong with the notebooks as stored: one sentence per problem (none: ``[]``)."""
    import jupytext

    problems = [
        f"{p.relative_to(ROOT)}: a notebook with outputs; keep it as a percent script (.py)"
        for p in sorted(NOTEBOOKS.glob("*.ipynb"))
    ]
    for path in notebooks() if paths is None else paths:
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        text = path.read_text()
        header = text.split("# ---")[1] if text.startswith("# ---") else ""
        if "formats: py:percent" not in header:
            problems.append(f"{name}: no Jupytext header with 'formats: py:percent'")
            continue
        try:
            nb = jupytext.reads(text, fmt="py:percent")
        except Exception as error:  # jupytext raises several kinds
            problems.append(f"{name}: does not parse as a notebook ({error})")
            continue
        cells = nb.cells
        if nb.metadata.get("kernelspec", {}).get("language") != "python":
            problems.append(f"{name}: no python kernelspec in the header")
        if not cells or cells[0].cell_type != "markdown" or not cells[0].source.startswith("# "):
            problems.append(f"{name}: the first cell must be markdown starting with a '# ' title")
        if not any(c.cell_type == "code" and c.source.strip() for c in cells):
            problems.append(f"{name}: no code cell")
        stored = [i for i, c in enumerate(cells) if c.get("outputs") or c.get("execution_count")]
        if stored:
            problems.append(f"{name}: cells {stored} store outputs")
    return problems


def _source_key() -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted((ROOT / "jaxnn").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cached(path: Path, key: str | None = None) -> Path:
    """Where the executed notebook for ``path`` is kept: ``build/docs-notebooks/<key>/...``."""
    key = key or _source_key()
    own = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return CACHE / key / own / "notebooks" / f"{path.stem}.ipynb"


def quick_env(data_dir: str | os.PathLike) -> dict[str, str]:
    """The kernel's environment: this one, quick mode, ``JAXNN_DATA`` at ``data_dir``."""
    return {
        **os.environ,
        "JAXNN_NOTEBOOK_QUICK": "1",
        "JAXNN_DATA": str(data_dir),
    }


def execute(path: Path, *, env: dict[str, str] | None = None, budget: float = BUDGET) -> Any:
    """Runs the notebook in a fresh Jupyter kernel (in its folder) and returns it with outputs.

    Args:
        path: The percent script.
        env: The kernel's environment (default: :func:`quick_env` with an empty data folder).
        budget: Seconds all cells together may take; a cell still running then is stopped.

    Raises:
        nbclient.exceptions.CellExecutionError: A cell raised; the message holds the traceback.
        nbclient.exceptions.CellTimeoutError: The notebook ran past ``budget``.
    """
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(path)
    with tempfile.TemporaryDirectory() as empty:
        deadline: list[float] = []

        def seconds_left(cell: Any) -> int:
            del cell
            if not deadline:  # the clock starts at the first cell, after the kernel started
                deadline.append(time.monotonic() + budget)
            return max(1, round(deadline[0] - time.monotonic()))

        client = NotebookClient(
            nb,
            timeout_func=seconds_left,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        # The kernel's own stderr holds only its start-up notices; errors come back as outputs.
        client.execute(env=env or quick_env(empty), stderr=subprocess.DEVNULL)
    return nb


def store(path: Path, nb: Any, key: str | None = None) -> Path:
    """Keeps an executed notebook where :func:`on_files` finds it (atomically); returns where."""
    import nbformat

    target = cached(path, key)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    with os.fdopen(fd, "w") as f:
        nbformat.write(nb, f)
    os.replace(tmp, target)
    return target


def _source_only(path: Path) -> Any:
    import jupytext
    import nbformat

    nb = jupytext.read(path)
    note = "*Rendered without running it (`JAXNN_DOCS_NOTEBOOKS=source`): no outputs.*"
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(note))
    return nb


def _page(path: Path, key: str) -> Path:
    """The ``.ipynb`` the site shows for ``path``: the test run's, or executed now."""
    if os.environ.get("JAXNN_DOCS_NOTEBOOKS", "").lower() == "source":
        return store(path, _source_only(path), key=f"source-{key}")
    target = cached(path, key)
    if target.is_file():
        return target
    start = time.perf_counter()
    nb = execute(path)
    _log.info("ran %s in %.1f s", path.name, time.perf_counter() - start)
    return store(path, nb, key)


def on_files(files: Any, config: Any) -> Any:
    """MkDocs event: adds each notebook as ``notebooks/<name>.ipynb`` before mkdocs-jupyter."""
    from mkdocs.structure.files import File

    key = _source_key()
    for path in notebooks():
        page = _page(path, key)
        files.append(
            File(
                f"notebooks/{path.stem}.ipynb",
                src_dir=str(page.parents[1]),
                dest_dir=config["site_dir"],
                use_directory_urls=config["use_directory_urls"],
            )
        )
    for old in CACHE.iterdir():  # keep only the current key's notebooks
        if old.name not in (key, f"source-{key}"):
            shutil.rmtree(old, ignore_errors=True)
    return files


# mkdocs-jupyter turns the .ipynb files into pages in its own on_files: run before it.
on_files.mkdocs_priority = 50  # type: ignore[attr-defined]


def main(argv: list[str]) -> int:
    """``python docs/notebooks.py --check``: prints the problems, exit 1 if there are any."""
    if argv != ["--check"]:
        print("usage: python docs/notebooks.py --check", file=sys.stderr)
        return 2
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{len(notebooks())} notebooks: percent scripts without outputs")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
