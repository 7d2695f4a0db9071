"""The tutorial pages in docs/tutorials/ are what their scripts in experiments/tutorials/ print."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "build_tutorials", ROOT / "experiments" / "build_tutorials.py"
)
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)


def test_every_script_has_a_page_and_every_page_a_script():
    scripts = {s.stem for s in build.scripts()}
    pages = {p.stem for p in (ROOT / "docs" / "tutorials").glob("[0-9]*.md")}
    assert len(scripts) >= 5
    assert scripts == pages


@pytest.mark.parametrize("script", build.scripts(), ids=lambda s: s.stem)
def test_page_is_up_to_date(script):
    built = build.build_page(script)
    stored = build.page_for(script).read_text()
    assert build.same_page(built, stored), (
        f"{build.page_for(script).name} is out of date: run python experiments/build_tutorials.py"
    )


def test_cells_split_prose_code_and_output(tmp_path, monkeypatch):
    script = tmp_path / "01_demo.py"
    script.write_text(
        '"""Demo title\n\nIntro text.\n"""\n\n'
        "# %%\n# Some *prose*.\n#\n# More.\n\nx = 6 * 7\nprint(x)\n\n"
        "# %%\n# Only prose.\n\n"
        "# %%\ny = x + 1\n"
    )
    monkeypatch.setattr(build, "ROOT", tmp_path)
    page = build.build_page(script)
    assert page.startswith("# Demo title\n")
    assert "Intro text." in page
    assert "Some *prose*.\n\nMore." in page
    assert "```python\nx = 6 * 7\nprint(x)\n```\n\n```text\n42\n```" in page
    assert "Only prose." in page
    assert "```python\ny = x + 1\n```" in page  # runs in the same namespace; prints nothing
    assert page.count("```text") == 1


def test_a_failing_cell_fails_the_build(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "ROOT", tmp_path)
    script = tmp_path / "01_bad.py"
    script.write_text('"""Bad"""\n\n# %%\nraise RuntimeError("cell failed")\n')
    with pytest.raises(RuntimeError, match="cell failed"):
        build.build_page(script)


def test_same_page_tolerates_noise_not_changes():
    page = "loss 0.2696 after 60 epochs\n|hand - grad| 1.3e-16\nfd 8.55e-05\n"
    assert build.same_page(page, "loss 0.2697 after 60 epochs\n|hand - grad| 2.2e-16\nfd 4.1e-05\n")
    assert build.same_page(page, page.replace(" 0.2696", "   0.2696"))  # spacing
    assert not build.same_page(page, page.replace("0.2696", "0.31"))  # a real change
    assert not build.same_page(page, page.replace("60 epochs", "61 epochs"))
    assert not build.same_page(page, page.replace("8.55e-05", "8.55e-03"))  # 100x larger error
    assert not build.same_page(page, page.replace("loss", "cost"))  # the text
    assert not build.same_page(page, page + "extra 1\n")


def test_check_mode_reports_a_stale_page(tmp_path, monkeypatch, capsys):
    scripts, pages = tmp_path / "scripts", tmp_path / "pages"
    scripts.mkdir()
    (scripts / "01_x.py").write_text('"""X"""\n\n# %%\nprint(1 + 1)\n')
    monkeypatch.setattr(build, "ROOT", tmp_path)
    monkeypatch.setattr(build, "SCRIPTS", scripts)
    monkeypatch.setattr(build, "PAGES", pages)
    assert build.main([]) == 0
    assert "```text\n2\n```" in (pages / "01_x.md").read_text()
    assert build.main(["--check"]) == 0
    (scripts / "01_x.py").write_text('"""X"""\n\n# %%\nprint(1 + 2)\n')
    assert build.main(["--check"]) == 1
    assert "out of date: 01_x.md" in capsys.readouterr().out


def test_index_links_every_page():
    index = (ROOT / "docs" / "tutorials" / "index.md").read_text()
    for script in build.scripts():
        assert f"({script.stem}.md)" in index
        assert f"python experiments/tutorials/{script.name}" in index
