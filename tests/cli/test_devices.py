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


def test_format_bytes_uses_binary_units():
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(141 * 2**30) == "141.0 GiB"
