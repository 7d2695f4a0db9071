import pytest

from jaxnn.cli.common import UserError
from jaxnn.cli.rundir import open_run, prepare, read_config, read_history, write_config


def test_config_round_trip_with_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("a,y\n1,0\n")
    options = {"data": "data.csv", "epochs": 3, "learning_rate": 0.01, "loss": None, "out": "x"}
    path = write_config(tmp_path / "run" / "config.toml", options)
    text = path.read_text()
    assert text.startswith("# The options of `jaxnn train`")
    assert "loss" not in text and "out" not in text  # None values and non-options left out
    assert read_config(path) == {
        "data": str(tmp_path / "data.csv"),
        "epochs": 3,
        "learning_rate": 0.01,
    }


def test_relative_paths_in_a_config_are_relative_to_its_folder(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('data = "sub/d.csv"\nmodel = "dense(2)"\n')
    assert read_config(path) == {"data": str(tmp_path / "sub" / "d.csv"), "model": "dense(2)"}


def test_bad_configs_are_named_with_the_line_or_the_known_keys(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('data = "xor"\nepochs = \n')
    with pytest.raises(UserError, match=r"config\.toml' is not valid TOML: .*line 2"):
        read_config(path)
    path.write_text("epoch = 3\n")
    with pytest.raises(UserError, match=r"unknown option 'epoch'\. Did you mean 'epochs'\?"):
        read_config(path)


def test_prepare_refuses_a_run_folder_and_overwrite_keeps_other_files(tmp_path):
    folder = tmp_path / "run"
    (folder / "tb" / "train").mkdir(parents=True)
    for name in ("config.toml", "model.jaxnn", "notes.txt", "tb/train/events.out.tfevents.1.x"):
        (folder / name).write_text("old")
    with pytest.raises(UserError, match=r"already holds a run \(config\.toml, model\.jaxnn, "):
        prepare(folder, overwrite=False)
    assert (folder / "config.toml").read_text() == "old"
    removed = prepare(folder, overwrite=True)
    assert sorted(p.name for p in removed) == [
        "config.toml",
        "events.out.tfevents.1.x",
        "model.jaxnn",
    ]
    assert sorted(p.name for p in folder.rglob("*")) == ["notes.txt"]


def test_prepare_uses_a_folder_without_a_run_and_rejects_a_file(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    assert prepare(tmp_path, overwrite=False) == []
    with pytest.raises(UserError, match="is a file, not a folder"):
        prepare(tmp_path / "notes.txt", overwrite=False)


def test_open_run_needs_a_model_file(tmp_path):
    with pytest.raises(UserError, match="holds no model.jaxnn"):
        open_run(tmp_path)


def test_read_history_columns(tmp_path):
    (tmp_path / "history.csv").write_text("epoch,loss\n0,0.5\n1,x\n")
    history = read_history(tmp_path)
    assert history["loss"][0] == 0.5 and history["loss"][1] != history["loss"][1]  # NaN
