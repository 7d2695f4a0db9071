"""Every Python example on the documentation site runs, or says why it does not.

The rule, for every fenced code block in ``docs/**/*.md``:

1. A fence has a language: ```` ```python ````, ```` ```sh ````, ```` ```text ```` ... An
   untagged block could be Python that nobody runs.
2. A Python block (``python``, ``py``, ``python3``, ``pycon``) is a doctest: it starts with a
   ``>>>`` prompt, and pytest runs it (``--doctest-glob=*.md`` over the ``docs`` test path, in
   pyproject.toml). End it with a blank line before the closing fence when the last example
   prints something.
3. A Python block that is not a doctest is marked as not run, with the reason, on the line just
   before its fence (blank lines between are allowed)::

       <!-- not run: needs a model saved by Keras 3 -->
       ```python
       keras_model.save("model.keras")
       ```

   The comment does not show on the site.
4. The tutorial pages that ``experiments/build_tutorials.py`` generates (their header says
   ``<!-- Generated from experiments/tutorials/NAME.py``) show the cells of a script that
   ``tests/test_tutorials.py`` runs, so their blocks count as run, as long as the script exists.

The other checks here keep the site whole without building it: every page is in the nav of
mkdocs.yml and every nav entry is a page, and every plot a page shows is one that docs/hooks.py
draws (and every plot it draws is shown). ``mkdocs build --strict`` checks the rest (links,
anchors, the API pages); see the Makefile.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PYTHON = {"python", "py", "python3", "py3", "pycon"}
NOT_RUN = re.compile(r"^\s*<!--\s*not run:\s*(?P<reason>.*?)\s*-->\s*$")
GENERATED = re.compile(r"<!-- Generated from experiments/tutorials/(?P<script>[\w.-]+\.py) ")
_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it starts, its language, its lines and its marker."""

    line: int  # 1-based line of the opening fence
    language: str
    body: tuple[str, ...]
    not_run: str | None  # the reason, when the block is marked; "" for an empty reason


def fenced_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, in order (fences may be indented)."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        fence = match["fence"]
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        end = i + 1
        while end < len(lines) and not close.match(lines[end]):
            end += 1
        info = match["info"].strip().lstrip("{").strip()
        language = info.split()[0].lstrip(".").rstrip("}").lower() if info else ""
        blocks.append(Block(i + 1, language, tuple(lines[i + 1 : end]), _marker(lines, i)))
        i = end + 1
    return blocks


def _marker(lines: list[str], fence: int) -> str | None:
    before = fence - 1
    while before >= 0 and not lines[before].strip():
        before -= 1
    match = NOT_RUN.match(lines[before]) if before >= 0 else None
    return None if match is None else match["reason"]


def generated_by(text: str) -> str | None:
    """The tutorial script a generated page names in its header, or None."""
    match = GENERATED.search("\n".join(text.splitlines()[:5]))
    return None if match is None else match["script"]


def problems(text: str, *, page: str = "page") -> list[str]:
    """What breaks the rule in one page: one message per bad block."""
    script = generated_by(text)
    run_elsewhere = script is not None and (ROOT / "experiments" / "tutorials" / script).is_file()
    found = []
    for block in fenced_blocks(text):
        where = f"{page}:{block.line}"
        if not block.language:
            found.append(f"{where}: a fence without a language (write ```python, ```sh, ```text)")
            continue
        if block.language not in PYTHON or run_elsewhere:
            continue
        first = next((line.strip() for line in block.body if line.strip()), "")
        if block.not_run is not None:
            if not block.not_run:
                found.append(f"{where}: '<!-- not run: -->' needs a reason after the colon")
            continue
        if not first.startswith(">>>"):
            found.append(
                f"{where}: a ```{block.language} block that does not run: write it as a doctest "
                "(starting with '>>> ') or mark it '<!-- not run: <reason> -->' on the line "
                "before the fence"
            )
    return found


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


# ---------------------------------------------------------------------------------------------
# The rule, on the real pages.


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(DOCS).as_posix())
def test_every_python_block_runs_or_says_why_not(page):
    assert problems(page.read_text(), page=page.relative_to(ROOT).as_posix()) == []


def test_the_docs_doctests_are_collected():
    """The rule relies on pytest running the `>>>` blocks of every page under docs/."""
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "docs" in config["testpaths"]
    assert "--doctest-glob=*.md" in config["addopts"].split()


def test_the_site_has_doctests_and_marked_blocks():
    """Guards the scan itself: on the real pages it finds doctests, and the marked Keras block."""
    blocks = [(page, b) for page in pages() for b in fenced_blocks(page.read_text())]
    doctests = [b for _, b in blocks if b.language in PYTHON and b.body and ">>>" in b.body[0]]
    marked = [(p.name, b.not_run) for p, b in blocks if b.not_run]
    assert len(doctests) >= 50
    assert any(name == "models.md" and "Keras" in reason for name, reason in marked)


def test_generated_tutorial_pages_name_an_existing_script():
    generated = {p.name: generated_by(p.read_text()) for p in (DOCS / "tutorials").glob("*.md")}
    scripts = [s for s in generated.values() if s is not None]
    assert len(scripts) >= 5
    for script in scripts:
        assert (ROOT / "experiments" / "tutorials" / script).is_file(), script


# ---------------------------------------------------------------------------------------------
# The scan, on made-up pages: each way of breaking the rule is caught.


def test_an_unmarked_python_block_is_reported():
    page = "# T\n\n```python\nprint(1)\n```\n"
    assert problems(page, page="t.md") == [
        "t.md:3: a ```python block that does not run: write it as a doctest (starting with "
        "'>>> ') or mark it '<!-- not run: <reason> -->' on the line before the fence"
    ]


def test_a_doctest_or_a_marked_block_passes():
    page = (
        "```python\n>>> 1 + 1\n2\n\n```\n\n"
        "<!-- not run: needs Keras -->\n\n```py\nimport keras\n```\n\n"
        "```pycon\n\n>>> x = 1\n```\n"
    )
    assert problems(page) == []
    assert [b.not_run for b in fenced_blocks(page)] == [None, "needs Keras", None]


def test_a_marker_needs_a_reason_and_must_be_right_before_the_fence():
    assert problems("<!-- not run: -->\n```python\nx = 1\n```\n", page="t.md") == [
        "t.md:2: '<!-- not run: -->' needs a reason after the colon"
    ]
    far = "<!-- not run: reason -->\nsome prose\n```python\nx = 1\n```\n"
    assert len(problems(far)) == 1


def test_code_before_the_first_prompt_is_reported():
    assert len(problems("```python\nimport jax\n>>> jax.numpy.zeros(1).shape\n(1,)\n```\n")) == 1


def test_an_untagged_fence_is_reported_and_other_languages_pass():
    page = "```\nx = 1\n```\n\n```sh\nmake test\n```\n\n~~~text\nout\n~~~\n"
    assert problems(page, page="t.md") == [
        "t.md:1: a fence without a language (write ```python, ```sh, ```text)"
    ]


def test_fences_nest_indent_and_take_attributes():
    page = (
        "- item\n\n    ```python\n    x = 1\n    ```\n\n"
        "````text\n```python\nnot a block of its own\n```\n````\n\n"
        '``` { .python title="a.py" }\ny = 2\n```\n'
    )
    blocks = fenced_blocks(page)
    assert [(b.line, b.language) for b in blocks] == [(3, "python"), (7, "text"), (13, "python")]
    assert blocks[1].body == ("```python", "not a block of its own", "```")
    assert len(problems(page)) == 2


def test_generated_pages_count_as_run_only_with_their_script():
    header = "# T\n\n<!-- Generated from experiments/tutorials/{} by `python x`: edit. -->\n\n"
    body = "```python\nprint(1)\n```\n"
    assert problems(header.format("01_neurons.py") + body) == []
    assert len(problems(header.format("99_missing.py") + body)) == 1


# ---------------------------------------------------------------------------------------------
# The site's structure: the nav and the plots.


def _nav_pages(entries) -> list[str]:
    found = []
    for entry in entries:
        values = entry.values() if isinstance(entry, dict) else [entry]
        for value in values:
            found += _nav_pages(value) if isinstance(value, list) else [value]
    return found


def test_every_page_is_in_the_nav_and_every_nav_entry_is_a_page():
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = _nav_pages(config["nav"])
    on_disk = {p.relative_to(DOCS).as_posix() for p in pages()}
    # docs/notebooks.py adds the lectures' notebooks as generated pages notebooks/<name>.ipynb
    notebooks = {f"notebooks/{p.stem}.ipynb" for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py")}
    assert sorted(notebooks - set(nav)) == []
    nav = [page for page in nav if page not in notebooks]
    assert sorted(set(nav) - on_disk) == []
    assert sorted(on_disk - set(nav)) == []
    assert len(nav) == len(set(nav)), "a page is in the nav twice"


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_hooks"] = module
    spec.loader.exec_module(module)
    return module


def test_every_plot_shown_is_drawn_and_every_plot_drawn_is_shown():
    hooks = _hooks()
    shown = set()
    for page in pages():
        shown |= set(re.findall(rf"{hooks.PLOT_DIR}/([\w.-]+\.png)", page.read_text()))
    assert sorted(shown - set(hooks.PLOTS)) == []
    assert sorted(set(hooks.PLOTS) - shown) == []


def test_plots_are_drawn_once_per_scene_and_cached(tmp_path, monkeypatch):
    hooks = _hooks()
    calls = []

    def scene(folder):
        calls.append(folder)
        (folder / "a.png").write_bytes(b"A")
        (folder / "b.png").write_bytes(b"B")

    monkeypatch.setattr(hooks, "PLOTS", {"a.png": scene, "b.png": scene})
    monkeypatch.setattr(hooks, "ROOT", tmp_path)
    (tmp_path / "jaxnn").mkdir()
    monkeypatch.delenv("JAXNN_DOCS_PLOT_CACHE", raising=False)
    assert hooks._plots() == {"a.png": b"A", "b.png": b"B"}
    assert len(calls) == 1  # one scene, two files
    assert hooks._plots() == {"a.png": b"A", "b.png": b"B"}
    assert len(calls) == 1  # the second build read the cache
    (tmp_path / "jaxnn" / "new.py").write_text("x = 1\n")  # the library changed: draw again
    hooks._plots()
    assert len(calls) == 2
    assert len(list((tmp_path / "build" / "docs-plots").iterdir())) == 1  # the old key is gone
    monkeypatch.setenv("JAXNN_DOCS_PLOT_CACHE", "off")
    hooks._plots()
    assert len(calls) == 3


def test_a_scene_that_draws_too_little_fails_the_build(tmp_path, monkeypatch):
    hooks = _hooks()
    monkeypatch.setattr(hooks, "PLOTS", {"a.png": lambda folder: None})
    with pytest.raises(RuntimeError, match=r"did not draw \['a.png'\]"):
        hooks.draw_plots(tmp_path)


# ---------------------------------------------------------------------------------------------
# The docstring conversion of the API pages (docs/griffe_rest.py).


def _griffe_rest():
    spec = importlib.util.spec_from_file_location("docs_griffe_rest", DOCS / "griffe_rest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.rest_to_markdown


def test_roles_become_optional_cross_references():
    convert = _griffe_rest()
    assert convert(":func:`jaxnn.fit`") == (
        '<autoref identifier="jaxnn.fit" optional><code>jaxnn.fit</code></autoref>'
    )
    assert convert(":class:`~jaxnn.callbacks.History`") == (
        '<autoref identifier="jaxnn.callbacks.History" optional><code>History</code></autoref>'
    )
    assert convert(":meth:`to_dict`", module="jaxnn.models.summary") == (
        '<autoref identifier="jaxnn.models.summary.to_dict" optional><code>to_dict</code></autoref>'
    )
    assert convert(":func:`jax.eval_shape` and :math:`x^2`") == "`jax.eval_shape` and `x^2`"


def test_literal_blocks_become_fences():
    text = "Two functions::\n\n    init(key)\n    apply(x)\n\nAfter."
    assert _griffe_rest()(text) == ("Two functions:\n\n```text\ninit(key)\napply(x)\n```\n\nAfter.")


def test_math_blocks_inside_a_section_keep_its_indentation():
    text = "Args:\n    x: The input.\n\n        .. math:: y = x^2\n            + 1\n\n    z: Other."
    assert _griffe_rest()(text) == (  # the formula's lines line up with its first one
        "Args:\n    x: The input.\n\n        ```latex\n        y = x^2\n        + 1\n"
        "        ```\n\n    z: Other."
    )


def test_a_stray_paragraph_in_raises_joins_the_entry_above():
    text = (
        "Raises:\n    ValueError: Bad value.\n    TypeError, KeyError: Bad kind.\n\n"
        "    Anything else raises its own error.\n\nExample:\n    >>> 1\n    1"
    )
    assert _griffe_rest()(text) == (
        "Raises:\n    ValueError: Bad value.\n    TypeError, KeyError: Bad kind.\n"
        "        Anything else raises its own error.\n\nExamples:\n    >>> 1\n    1"
    )


def test_the_top_level_api_page_lists_every_top_level_name():
    """docs/api/jaxnn.md is a hand-written table (each name links to where it is defined)."""
    import jaxnn

    page = (DOCS / "api" / "jaxnn.md").read_text()
    listed = set(re.findall(r"^\| `(\w+)` \|", page, flags=re.M))
    assert sorted(set(jaxnn.__all__) - listed) == []
    assert sorted(listed - set(jaxnn.__all__)) == []


def test_constructors_documented_at_import_become_functions_on_the_api_pages():
    """Conv2D = _make(...) with its __doc__ set afterwards: griffe alone sees no docstring."""
    griffe = pytest.importorskip("griffe")
    spec = importlib.util.spec_from_file_location("docs_griffe_rest", DOCS / "griffe_rest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    plain = griffe.load("jaxnn.layers.conv", search_paths=[ROOT])
    assert plain["Conv2D"].is_attribute and plain["Conv2D"].docstring is None
    loaded = griffe.load(
        "jaxnn.layers.conv",
        search_paths=[ROOT],
        extensions=griffe.load_extensions(module.extension()),
        docstring_parser="google",
    )
    conv = loaded["Conv2D"]
    assert conv.is_function
    assert [p.name for p in conv.parameters][:3] == ["filters", "kernel_size", "strides"]
    assert conv.parameters["padding"].default == "'valid'"
    assert conv.docstring.value.startswith("2-D convolution over channels-last inputs")
    assert "```latex" in conv.docstring.value  # and the reST in it became Markdown
