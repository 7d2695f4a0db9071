"""The package's imports run one way (shared/DESIGN.md): each module imports only its own part
of jaxnn and the parts below it, so no two modules import each other, even lazily.

The graph is read from the source with :mod:`ast`: every ``import`` and ``from ... import``, at
module level or inside a function; those under ``if TYPE_CHECKING:`` count for circles too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import jaxnn

ROOT = Path(jaxnn.__file__).parent

# From the bottom up; the parts on one line may import each other's modules.
LAYERS = [
    ["_version", "types", "_html"],
    ["core", "paths", "capture", "masking", "activations", "initializers", "encoding", "dtypes"],
    ["combinators"],
    ["layers"],
    ["losses", "metrics", "regularizers", "optimizers"],
    ["precision"],
    ["checkpoint", "callbacks"],
    ["train"],
    ["data", "autodiff", "cache"],
    ["lm", "models", "interop", "export", "_onnx", "viz", "distributed"],
    ["bench", "search", "demo"],
    ["cli", "playground"],
    ["__init__", "__main__"],
]
RANK = {part: i for i, parts in enumerate(LAYERS) for part in parts}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path, module: str, known: set[str], typing: bool) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text())
    skipped = (
        set()
        if typing
        else {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)
        }
    )
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            names = [f"{base}.{a.name}" for a in node.names]
            targets = [n for n in names if n in known] or [base]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        found += [(t, node.lineno) for t in targets if t in known]
    return found


def _graph(typing: bool = False) -> dict[str, list[tuple[str, int]]]:
    files = {_module(p): p for p in ROOT.rglob("*.py")}
    known = set(files)
    return {m: _imports(p, m, known, typing) for m, p in files.items()}


def test_every_part_of_the_package_has_a_place_in_the_order():
    assert {_part(m) for m in _graph()} <= set(RANK)


def test_no_module_imports_a_part_above_its_own():
    upward = [
        f"{m}:{line} imports {t}"
        for m, targets in _graph().items()
        for t, line in targets
        if RANK[_part(t)] > RANK[_part(m)]
    ]
    assert upward == []


def test_no_two_modules_import_each_other():
    graph = {m: {t for t, _ in targets if t != m} for m, targets in _graph(typing=True).items()}
    cycles = []
    for start in graph:  # a depth-first search for a path back to start
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for t in graph.get(node, ()):
                if t == start:
                    cycles.append(" -> ".join([*path, t]))
                elif t not in seen:
                    seen.add(t)
                    stack.append((t, [*path, t]))
    assert cycles == []
