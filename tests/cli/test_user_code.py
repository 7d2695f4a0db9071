"""The user's own module or file that a command line names: found, run, and its failures named."""

import os
import sys

import pytest

from jaxnn.cli import user_code
from jaxnn.cli.common import UserError

WHERE = "--data 'grain:m:f'"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """An empty folder that is the current one; modules written to it are importable from it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", os.getcwd())])
    yield tmp_path
    for name, module in list(sys.modules.items()):  # the test's own modules, nothing else
        if str(getattr(module, "__file__", "") or "").startswith(str(tmp_path)):
            del sys.modules[name]


def test_a_module_in_the_current_folder_imports_and_the_path_is_restored(folder):
    (folder / "jaxnn_test_here.py").write_text("def make():\n    return 41 + 1\n")
    before = list(sys.path)
    with user_code.importable_here():
        module = user_code.import_module("jaxnn_test_here", where=WHERE, instead="x")
        make = user_code.get_function(module, "make", where=WHERE, label="here", role="r")
        assert user_code.call(make, where=WHERE, name="make") == 42
    assert sys.path == before


def test_a_file_runs_as_a_module_that_dataclasses_can_find(folder):
    (folder / "p.py").write_text(
        "import dataclasses\n\n@dataclasses.dataclass\nclass A:\n    n: int = 3\n\n"
        "def make():\n    return A().n\n"
    )
    module = user_code.import_module("p.py", where=WHERE, instead="x")
    assert module.make() == 3 and sys.modules[module.__name__] is module


@pytest.mark.parametrize(
    ("files", "module", "message"),
    [
        ({"s.py": "x = (\n"}, "s.py", r"running 's.py' failed \(.*s.py, line 1\): SyntaxError: "),
        ({"u.py": "import nope_pkg_xyz\n"}, "u", r"importing 'u' failed \(.*u.py, line 1\): No "
         r"module named 'nope_pkg_xyz'"),
        ({"r.py": "\n\nraise RuntimeError('no bucket')\n"}, "r", r"importing 'r' failed \(.*r.py, "
         r"line 3\): RuntimeError: no bucket"),
        ({}, "absent_mod_xyz", r"no module 'absent_mod_xyz' to import from the current folder \("
         r".*\) or PYTHONPATH; give the file\."),
        ({}, "absent.py", r"no file 'absent.py'\."),
    ],
)  # fmt: skip
def test_a_module_that_cannot_be_imported_is_one_message(folder, files, module, message):
    for name, text in files.items():
        (folder / name).write_text(text)
    with user_code.importable_here(), pytest.raises(UserError, match=message):
        user_code.import_module(module, where=WHERE, instead="give the file")


def test_a_missing_or_uncallable_function_and_a_failing_call_are_named(folder):
    (folder / "m.py").write_text(
        "def make():\n    return 1 / 0\n\ndef made():\n    pass\n\nn = 2\n"
    )
    module = user_code.import_module("m.py", where=WHERE, instead="x")
    kw = dict(where=WHERE, label="m.py", role="returns data")
    with pytest.raises(UserError, match=r"'m.py' has no function 'mak'. Did you mean 'make'.*"
                       r" It defines: made, make\."):  # fmt: skip
        user_code.get_function(module, "mak", **kw)
    with pytest.raises(UserError, match=r"n in 'm.py' is of type int, not a function; name a "
                       r"function that returns data\."):  # fmt: skip
        user_code.get_function(module, "n", **kw)
    with pytest.raises(UserError, match=r"make\(\) \(called with no arguments\) raised "
                       r"ZeroDivisionError \(.*m.py, line 2\): division by zero"):  # fmt: skip
        user_code.call(module.make, where=WHERE, name="make")
