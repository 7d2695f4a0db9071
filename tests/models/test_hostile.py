"""Hostile model files: each names code to run; safe loading refuses it before anything runs.

Written from Keras' safe-mode advisories (CVE-2025-1550: a function named by module; then
CVE-2025-8747 and CVE-2025-9906: gadgets inside the trusted package itself) and beyond them.
Every payload would create a file in its folder if it ran: the test checks that the folder
holds the model file alone afterwards, and that the error names the file, the entry and the
function, through the API and through each command that opens a file.
"""

from __future__ import annotations

import json
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.cli import cli
from jaxnn.layers import Dense
from jaxnn.models import load_model, save_model
from tests.cli.conftest import ENV


def _payloads(marker: str) -> dict[str, dict]:
    """name -> a function reference that, called, would create ``marker`` (or worse)."""
    code = f"open({marker!r}, 'w').close()"

    def ref(path, *args, **kwargs):
        return {"__function__": path, "args": list(args), "kwargs": kwargs}

    return {
        "exec": ref("builtins:exec", code),
        "eval": ref("builtins:eval", code),
        "compile": ref("builtins:compile", code, "f", "exec"),
        "__import__": ref("builtins:__import__", "os"),
        "getattr": ref("builtins:getattr", "os", "system"),
        "open": ref("builtins:open", marker, "w"),
        "os.system": ref("os:system", f"touch {marker}"),
        "os.popen": ref("os:popen", f"touch {marker}"),
        "subprocess.run": ref("subprocess:run", ["touch", marker]),
        "subprocess.check_call": ref("subprocess:check_call", ["touch", marker]),
        "shutil.copyfile": ref("shutil:copyfile", __file__, marker),
        "importlib.import_module": ref("importlib:import_module", "this"),
        "pickle.loads": ref("pickle:loads", "cos\nsystem\n(S'true'\ntR."),
        "marshal.loads": ref("marshal:loads", "c"),
        "numpy.save": ref("numpy:save", marker),
        "numpy.load": ref("numpy:load", marker, allow_pickle=True),
        "jax.numpy.save": ref("jax.numpy:save", marker),
        "jax.numpy.load": ref("jax.numpy:load", marker),
        "jax.numpy.fromfile": ref("jax.numpy:fromfile", marker),
        "jax.config.update": ref("jax:config.update", "jax_enable_x64", True),
        "jaxnn.write_atomic": ref("jaxnn.checkpoint:write_atomic", marker),
        "jaxnn.save_model": ref("jaxnn.models.file:save_model", marker),
        "jaxnn.load_model": ref("jaxnn.models:load_model", marker, safe_mode=False),
        "jaxnn.cache": ref("jaxnn.cache:enable_compilation_cache", marker),
        "optax.tree_utils": ref("optax.tree_utils:tree_map_params"),
        "flax.msgpack_restore": ref("flax.serialization:msgpack_restore", "x"),
        "flax.save_checkpoint": ref("flax.training.checkpoints:save_checkpoint", marker, 0, 0),
        "private jax path": ref("jax._src.config:update", "jax_enable_x64", True),
        "nested partial": ref("jax.nn:relu", where=ref("os:system", f"touch {marker}")),
        "partial in args": ref("jax.numpy:add", ref("builtins:exec", code)),
        "layer in partial": ref("jax.nn:relu", where={"__layer__": {"type": "Dense", "units": 1}}),
        "unregistered name": {"__registered__": "exec"},
        "unknown tag": {"__reduce__": ["os:system", [f"touch {marker}"]]},
        "two tags": {"__function__": "builtins:exec", "__tuple__": [code]},
        "object dtype": {"__dtype__": "O"},
    }


def _sites(payload: dict) -> dict[str, dict]:
    """Where a payload can sit in config.json: site -> the whole config."""
    dense = {"type": "Dense", "units": 2, "name": "dense"}
    layer = {"type": "function", "function": payload, "name": "f"}
    return {
        "function layer": {"model": {"type": "serial", "name": "serial", "layers": [dense, layer]}},
        "layer argument": {"model": {**dense, "activation": payload}},
        "initializer argument": {"model": {**dense, "kernel_init": payload}},
        "combinator argument": {
            "model": {"type": "parallel", "name": "p", "combine": payload, "layers": [dense]}
        },
        "wrapped layer": {"model": {"type": "Bidirectional", "layer": payload, "units": 2}},
        "fit_kwargs": {"model": dense, "fit_kwargs": {"loss": payload}},
        "fit_kwargs metric": {"model": dense, "fit_kwargs": {"metrics": ["accuracy", payload]}},
    }


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory):
    model = Dense(2, name="dense")
    _, params, state = model.init(jax.random.key(0), (-1, 3))
    return save_model(tmp_path_factory.mktemp("valid") / "m.jaxnn", model, (params, state),
                      input_shape=(-1, 3))  # fmt: skip


def _write(path, source, **members):
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(path, "w") as zout:
        for item in zin.infolist():
            data = members.get(item.filename, zin.read(item.filename))
            zout.writestr(item.filename, data if isinstance(data, bytes) else json.dumps(data))
    return path


CASES = [(p, s) for p in _payloads("M") for s in _sites({})]


@pytest.mark.parametrize("payload, site", CASES, ids=[f"{p}-{s}" for p, s in CASES])
def test_a_hostile_file_is_refused_and_nothing_runs(valid_file, tmp_path, payload, site):
    marker = str(tmp_path / "MARKER")
    config = _sites(_payloads(marker)[payload])[site]
    path = _write(tmp_path / "hostile.jaxnn", valid_file, **{"config.json": config})
    with pytest.raises(ValueError, match=r"load_model: '.*hostile\.jaxnn'.*config\.json") as info:
        load_model(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.jaxnn"], str(info.value)
    assert jax.config.jax_enable_x64 is False


def test_the_message_names_the_function_and_how_to_trust_a_file(valid_file, tmp_path):
    payload = _payloads(str(tmp_path / "MARKER"))["os.system"]
    path = _write(
        tmp_path / "h.jaxnn", valid_file, **{"config.json": _sites(payload)["layer argument"]}
    )
    with pytest.raises(
        ValueError,
        match=r"h\.jaxnn' config\.json: model \(Dense\)\['activation'\] names the function "
        r"'os:system', which is not one a model file may name.*Nothing was imported.*"
        r"safe_mode=False \(the command: --unsafe\)",
    ):
        load_model(path)


@pytest.mark.parametrize(
    "metadata_change, match",
    [
        ({"key": {"typed": True, "impl": "os:system"}}, r"key impl 'os:system' is not one of"),
        ({"input_shape": {"__function__": "os:system"}}, r"'input_shape' is .*expected a list"),
        ({"has_opt_state": "yes"}, r"'has_opt_state' is 'yes', expected true/false"),
    ],
)
def test_hostile_metadata_is_refused_by_the_schema(valid_file, tmp_path, metadata_change, match):
    metadata = json.loads(zipfile.ZipFile(valid_file).read("metadata.json"))
    path = _write(
        tmp_path / "h.jaxnn", valid_file, **{"metadata.json": {**metadata, **metadata_change}}
    )
    with pytest.raises(ValueError, match=match):
        load_model(path)


@pytest.mark.parametrize("command", ["summary", "evaluate", "predict", "plot"])
def test_each_command_refuses_a_hostile_file_and_nothing_runs(valid_file, tmp_path, command):
    from click.testing import CliRunner

    marker = tmp_path / "MARKER"
    config = _sites(_payloads(str(marker))["os.system"])["function layer"]
    path = _write(tmp_path / "model.jaxnn", valid_file, **{"config.json": config})
    np.save(tmp_path.parent / f"{command}-x.npy", np.zeros((2, 3), np.float32))
    args = {
        "summary": [path],
        "evaluate": [path, "--data", "xor"],
        "predict": [path, tmp_path.parent / f"{command}-x.npy"],
        "plot": [path, "--out", tmp_path.parent / f"{command}-plots"],
    }[command]
    result = CliRunner().invoke(cli, [command, *map(str, args)], env=ENV)
    assert result.exit_code == 1, result.output
    assert "names the function 'os:system'" in result.output and "--unsafe" in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.jaxnn"]


def test_unsafe_trusts_the_file_and_warns(tmp_path):
    from click.testing import CliRunner

    model = jaxnn.serial(Dense(2), jnp.tanh)
    _, params, state = model.init(jax.random.key(0), (-1, 3))
    path = save_model(tmp_path / "m.jaxnn", model, (params, state), input_shape=(-1, 3))
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    config["model"]["layers"][1]["function"] = {"__function__": "jax.numpy:i0"}
    trusted = _write(tmp_path / "trusted.jaxnn", path, **{"config.json": config})
    refused = CliRunner().invoke(cli, ["summary", str(trusted)], env=ENV)
    assert refused.exit_code == 1 and "'jax.numpy:i0', which is not one" in refused.output
    result = CliRunner().invoke(cli, ["summary", str(trusted), "--unsafe"], env=ENV)
    assert result.exit_code == 0, result.output
    assert "warning: --unsafe" in result.output and "tanh" in result.output
