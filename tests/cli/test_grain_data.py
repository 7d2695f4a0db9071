"""`jaxnn train --data grain:MODULE:FUNCTION`: a function of the user's returns Grain datasets."""

import json
import sys

import jax
import numpy as np
import pytest

import jaxnn
from jaxnn import checkpoint
from jaxnn.cli.common import UserError
from jaxnn.cli.datasets import load_dataset, short_name
from jaxnn.cli.grain_data import load_grain
from jaxnn.cli.rundir import read_config
from tests.cli.conftest import KilledError, invoke, train_killed_after_epoch

pytest.importorskip("grain")

QUIET = ("--no-plots", "--no-tensorboard", "-q")

# The user's module: 200 training rows in 13 batches of 16 (the last of 8), 48 test rows.
PIPELINE = """
import grain
import numpy as np


def records(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    return grain.MapDataset.source([(x[i], y[i]) for i in range(n)])


def make():
    return {"train": records(200, 0).shuffle(seed=1).batch(16), "test": records(48, 1).batch(16)}


def endless():
    return records(200, 0).shuffle(seed=1).repeat().batch(16)


def no_length():
    return records(200, 0).batch(16).to_iter_dataset()


def with_validation():
    return {"train": records(200, 0).batch(16), "validation": records(48, 2).batch(16)}


def scalars():
    return records(200, 0).batch(16).map(lambda b: (b[0], b[1].astype(np.float32)))


def wrong():
    return [1, 2]


def broken():
    raise RuntimeError("the bucket is not there")


not_a_function = 3


def batches(y):
    return grain.MapDataset.source([(np.ones((len(y), 3), np.float32), np.asarray(y, np.int32))])


def five_classes():
    return {"train": batches([0, 1]), "test": batches([2, 0]), "num_classes": 5}


def unknown_key():
    return {"train": batches([0, 1]), "tests": batches([0, 1])}


def no_train():
    return {"validation": batches([0, 1])}


def test_is_a_list():
    return {"train": batches([0, 1]), "test": [1]}


def classes_text():
    return {"train": batches([0, 1]), "num_classes": "3"}


def too_few_classes():
    return {"train": batches([0, 1]), "test": batches([4, 0]), "num_classes": 3}


def negative():
    return batches([-1, 0])


def empty():
    return grain.MapDataset.source([])
"""


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    """The name of the pipeline module, importable from its folder on sys.path."""
    folder = tmp_path_factory.mktemp("user_code")
    (folder / "jaxnn_test_pipeline.py").write_text(PIPELINE)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(folder))
        yield "jaxnn_test_pipeline"
    sys.modules.pop("jaxnn_test_pipeline", None)


@pytest.fixture(scope="module")
def run(module, tmp_path_factory):
    folder = tmp_path_factory.mktemp("grain_runs") / "make"
    result = invoke("train", "--data", f"grain:{module}:make", "--model", "dense(16) relu dense(2)",
                    "--epochs", "5", "--learning-rate", "0.05", "--out", folder, "--no-tensorboard")  # fmt: skip
    assert result.exit_code == 0, result.output
    return folder, result


def test_train_on_a_grain_function_writes_the_run_and_learns(run, module):
    folder, result = run
    files = result.stdout.split("files written:\n")[1].split()
    assert [f.rpartition("/")[2] for f in files] == [
        "config.toml", "history.csv", "model.jaxnn", "test.json", "history.png",
    ]  # fmt: skip
    assert (
        f"data: grain:{module}:make: a MapDataset of 13 batches of 16 samples of shape (4,), 2 "
        f"classes (test: MapDataset)" in result.stderr
    )
    test = json.loads((folder / "test.json").read_text())
    assert test["samples"] == 48 and test["accuracy"] > 0.85  # chance: about 0.5
    saved = jaxnn.load_model(folder / "model.jaxnn")
    # validation_split 0.1 of 13 batches holds out the last one: 12 steps in each of 5 epochs
    assert int(saved.train_state.step) == 5 * 12
    config = read_config(folder / "config.toml")
    assert config["data"] == f"grain:{module}:make" and config["batch_size"] == 16
    assert config["validation_split"] == 0.1 and "test_split" not in config
    history = (folder / "history.csv").read_text().splitlines()
    assert len(history) == 6 and history[0] == "epoch,accuracy,loss,val_accuracy,val_loss"


def test_evaluate_reads_the_functions_test_dataset(run):
    folder, _ = run
    result = invoke("evaluate", folder, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads((folder / "test.json").read_text())
    result = invoke("evaluate", folder, "--split", "train")
    assert result.exit_code == 1
    assert "--split train: for --data 'grain:jaxnn_test_pipeline:make' evaluate reads the " in (
        result.stderr
    )


def test_an_endless_dataset_trains_steps_per_epoch_and_resumes_at_its_batch(
    module, tmp_path, monkeypatch
):
    options = ("--data", f"grain:{module}:endless", "--model", "dense(8) tanh dense(2)")
    options += ("--steps-per-epoch", "7", "--epochs", "4", "--validation-split", "0", *QUIET)
    whole = tmp_path / "whole"
    assert invoke("train", *options, "--out", whole).exit_code == 0
    assert int(jaxnn.load_model(whole / "model.jaxnn").train_state.step) == 4 * 7

    folder = tmp_path / "cut"
    result = train_killed_after_epoch(monkeypatch, *options, "--out", folder)
    assert isinstance(result.exception, KilledError)
    last = folder / "checkpoint" / "last.msgpack"
    target = jaxnn.load_model(whole / "model.jaxnn").train_state  # the same structure
    position = checkpoint.load(last, target).input_position
    assert position["epoch"] == 2 and position["state"] == {"next_index": 14}  # 2 epochs of 7
    result = invoke("train", "--resume", folder, *QUIET)
    assert result.exit_code == 0, result.output
    a, b = (jaxnn.load_model(f / "model.jaxnn").train_state for f in (folder, whole))
    leaves = [jax.tree.leaves((s.params, s.opt_state)) for s in (a, b)]
    pairs = zip(*leaves, strict=True)
    assert all(np.array_equal(x, y) for x, y in pairs) and int(a.step) == 28
    assert (folder / "history.csv").read_text() == (whole / "history.csv").read_text()


def test_a_file_form_is_recorded_with_its_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipes").mkdir()
    (tmp_path / "pipes" / "p.py").write_text(PIPELINE)
    result = invoke("train", "--data", "grain:pipes/p.py:with_validation", "--model", "dense(2)",
                    "--epochs", "1", "--out", "run", *QUIET)  # fmt: skip
    assert result.exit_code == 0, result.output
    config = read_config(tmp_path / "run" / "config.toml")
    assert config["data"] == f"grain:{tmp_path / 'pipes' / 'p.py'}:with_validation"
    assert config["validation_split"] == 0.0  # the function's validation dataset instead
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert history[0] == "epoch,accuracy,loss,val_accuracy,val_loss" and len(history) == 2
    assert not (tmp_path / "run" / "test.json").exists()  # no test dataset, no test.json
    assert short_name("grain:pipes/p.py:with_validation") == "p_with_validation"
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.toml").write_text('data = "grain:../pipes/p.py:make"\n')
    relative = read_config(tmp_path / "conf" / "config.toml")["data"]
    assert relative == f"grain:{tmp_path / 'conf' / '..' / 'pipes' / 'p.py'}:make"


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (
            "zzz",
            "'jaxnn_test_pipeline' has no function 'zzz'. It defines: batches, broken, ",
        ),
        ("not_a_function", "not_a_function in 'jaxnn_test_pipeline' is of type int, not a func"),
        ("wrong", "wrong() must return a Grain dataset of batches (grain.MapDataset, grain.Iter"),
        ("broken", "broken() (called with no arguments) raised RuntimeError ("),
        ("endless", "the training dataset is endless (repeat() without a count); give --steps-"),
        ("scalars", "the first batch has float targets y of shape (16,); regression targets are"),
    ],
)
def test_a_function_that_gives_no_usable_datasets_is_one_message(
    module, tmp_path, function, message
):
    result = invoke("train", "--data", f"grain:{module}:{function}", "--out", tmp_path / "r")
    assert result.exit_code == 1 and message in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("data", "args", "message"),
    [
        ("grain:no_such_module_here:make", (), "no module 'no_such_module_here' to import from "
         "the current folder"),
        ("grain:missing/p.py:make", (), "no file 'missing/p.py'"),
        ("grain:make", (), "must be grain:MODULE:FUNCTION, e.g. grain:pipeline:make or grain:"),
        ("{m}:make", ("--batch-size", "8"), "--batch-size 8: the batches of --data 'grain:jaxnn"
         "_test_pipeline:make' hold 16 samples; batch the dataset in its function (ds.batch(8))"),
        ("{m}:with_validation", ("--validation-split", "0.2"), "--validation-split 0.2: the "
         "function of --data"),
        ("{m}:no_length", ("--validation-split", "0.2"), "and the training dataset of --data "
         "'grain:jaxnn_test_pipeline:no_length' has no length: give --steps-per-epoch."),
        ("{m}:make", ("--target", "y"), "--target cannot be given with --data 'grain:"),
        ("digits", ("--steps-per-epoch", "3"), "--steps-per-epoch is for --data grain:...; "),
        ("{m}:make", ("--model", "dense(1)"), "the loss sigmoid_binary_cross_entropy takes one "
         "score per sample: the batches of"),
    ],
)  # fmt: skip
def test_bad_grain_options_are_refused_before_anything_is_written(
    module, tmp_path, data, args, message
):
    data = data.format(m=f"grain:{module}")
    result = invoke("train", "--data", data, *args, "--out", tmp_path / "r")
    assert result.exit_code == 1 and message in result.stderr, result.output
    assert not (tmp_path / "r").exists()


def test_the_classes_are_num_classes_or_one_more_than_the_largest_first_label(module):
    found = load_grain(f"grain:{module}:five_classes")
    assert found.num_classes == 5 and found.batch == 2 and found.steps == 1
    assert load_grain(f"grain:{module}:make").num_classes == 2  # labels 0 and 1 in the batches


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("unknown_key", r"; got a dict with unknown keys \['tests'\]\."),
        ("no_train", r"; got a dict with no 'train'\."),
        ("test_is_a_list", r"; its 'test' is a list\."),
        ("classes_text", r"num_classes must be an int; got '3'\."),
        ("too_few_classes", r"num_classes is 3, but the labels go up to 4; it must be at least 5"),
        ("negative", r"class labels must be 0, 1, 2 \.\.\.; found -1\."),
        ("empty", r"\(train dataset\): the data iterator is empty: it yielded no batch"),
    ],
)
def test_a_result_that_is_not_grain_datasets_of_batches_is_named(module, function, message):
    with pytest.raises(UserError, match=message):
        load_grain(f"grain:{module}:{function}")


def test_grain_data_names_the_extra_without_grain(module, monkeypatch):
    monkeypatch.setitem(sys.modules, "grain", None)
    with pytest.raises(UserError, match=r"Grain datasets need the grain package, .* install it "
                       r"with pip install 'jaxnn\[grain\]'"):  # fmt: skip
        load_grain(f"grain:{module}:make")


def test_commands_that_need_data_in_memory_refuse_grain_data(module):
    with pytest.raises(UserError, match="this command takes data in memory; Grain datasets train"):
        load_dataset(f"grain:{module}:make")
    found = load_dataset(f"grain:{module}:make", allow_grain=True)
    assert found.input_shape == (-1, 4) and found.num_classes == 2
    assert found.x_train.shape == (16, 4) and found.grain.steps == 13
