import json

import jax

from jaxnn.cli.devices import format_bytes
from tests.cli.conftest import invoke


def test_devices_lists_what_jax_sees():
    result = invoke("devices", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["jax"] == jax.__version__
    assert [(d["id"], d["platform"]) for d in found["devices"]] == [
        (d.id, d.platform) for d in jax.devices()
    ]
    table = invoke("devices")
    assert table.stdout.splitlines()[1].split()[:4] == ["id", "platform", "kind", "process"]


def test_the_command_sets_its_cpu_flag_unless_xla_flags_is_given_and_devices_says_so(monkeypatch):
    from jaxnn.cli.app import own_process_flags
    from jaxnn.layers.conv import CPU_CONV_FLAG

    env = {}
    assert own_process_flags(env) and env == {
        "XLA_FLAGS": CPU_CONV_FLAG,
        "JAXNN_SET_XLA_FLAGS": "1",
    }
    mine = {"XLA_FLAGS": "--xla_dump_to=/tmp/x"}
    assert not own_process_flags(mine) and mine == {"XLA_FLAGS": "--xla_dump_to=/tmp/x"}
    monkeypatch.setenv("XLA_FLAGS", CPU_CONV_FLAG)
    monkeypatch.setenv("JAXNN_SET_XLA_FLAGS", "1")
    said = invoke("devices").stdout
    assert f"XLA_FLAGS set by the jaxnn command: {CPU_CONV_FLAG}" in said
    assert json.loads(invoke("devices", "--json").stdout)["xla_flags_set_by"] == "jaxnn"
    monkeypatch.delenv("JAXNN_SET_XLA_FLAGS")
    assert "XLA_FLAGS from your environment" in invoke("devices").stdout


def test_format_bytes_uses_binary_units():
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(141 * 2**30) == "141.0 GiB"
