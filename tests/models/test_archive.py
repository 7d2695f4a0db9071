"""Damaged model files: each a clear error naming the file and the field, in bounded memory."""

from __future__ import annotations

import json
import struct
import tracemalloc
import zipfile

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import load as read_safetensors
from safetensors.numpy import save as write_safetensors

import jaxnn
from jaxnn.layers import BatchNorm, Dense
from jaxnn.models import load_model, save_model


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    """A file fit wrote (Adam state and fit_kwargs included) and its three members."""
    x = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)
    model = jaxnn.serial(Dense(4), BatchNorm(), jnp.tanh, Dense(2))
    ts, _ = jaxnn.fit(model, (x, (x[:, 0] > 0).astype(np.int32)), loss="softmax_cross_entropy",
                      epochs=1, batch_size=16, verbose=0)  # fmt: skip
    path = save_model(tmp_path_factory.mktemp("valid") / "m.jaxnn", model, ts)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    return path, members


def _write(path, members, *, deflate=()):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            kind = zipfile.ZIP_DEFLATED if name in deflate else zipfile.ZIP_STORED
            z.writestr(name, data if isinstance(data, bytes) else json.dumps(data), kind)
    return path


def _changed(valid, tmp_path, member, change):
    path, members = valid
    value = json.loads(members[member])
    change(value)
    return _write(tmp_path / "bad.jaxnn", {**members, member: value})


@pytest.mark.parametrize(
    "member, change, match",
    [
        ("metadata.json", lambda m: m.pop("input_shape"), r"metadata.json lacks the field 'input_shape'"),
        ("metadata.json", lambda m: m.pop("key"), r"metadata.json lacks the field 'key'"),
        ("metadata.json", lambda m: m.update(input_shape="abc"), r"'input_shape' is 'abc', expected a list"),
        ("metadata.json", lambda m: m.update(input_shape=[-1, "3"]), r"'input_shape' is \[-1, '3'\], expected a list of 1 to 16 sizes"),
        ("metadata.json", lambda m: m.update(format_version="1"), r"'format_version' is '1', expected an integer"),
        ("metadata.json", lambda m: m["key"].pop("typed"), r"metadata.json key lacks the field 'typed'"),
        ("config.json", lambda c: c.update(fit_kwargs=[1]), r"'fit_kwargs' is '\[1\]', expected an object"),
        ("config.json", lambda c: c.update(extra=1), r"config.json has unknown fields \['extra'\]"),
        ("config.json", lambda c: c.pop("model"), r"config.json lacks the field 'model'"),
        ("config.json", lambda c: c["fit_kwargs"].update(batch_size=-3), r"fit_kwargs: 'batch_size' is '-3'; expected an integer >= 1"),
        ("config.json", lambda c: c["fit_kwargs"].update(learning_rate=1e999), r"'learning_rate' is 'inf'; expected a finite number > 0"),
        ("config.json", lambda c: c["fit_kwargs"].update(verbose=2), r"unknown fit arguments \['verbose'\]"),
        ("config.json", lambda c: c["model"]["layers"][0].update(units=-5), r"bad.jaxnn' config.json: model \(serial\) -> layer 0 \(Dense\): Dense 'dense': units must be"),
        ("config.json", lambda c: c["model"]["layers"][0].update(units=[]), r"layer 0 \(Dense\).*units"),
        ("config.json", lambda c: c["model"].update(layers={}), r"model \(serial\): 'layers' must be a list"),
        ("config.json", lambda c: c["model"]["layers"][3].update(units=3), r"model.safetensors in .*bad.jaxnn' does not match the model: .*params/dense_1/b has shape \(2,\)"),
        ("config.json", lambda c: c["model"]["layers"].append({"type": "Dense", "units": 2, "name": "x"}), r"params/x/w is missing"),
    ],
)  # fmt: skip
def test_a_damaged_field_names_the_file_and_the_field(valid, tmp_path, member, change, match):
    with pytest.raises(ValueError, match=match):
        load_model(_changed(valid, tmp_path, member, change))


def test_deep_nesting_is_refused_before_it_recurses(valid, tmp_path):
    path, members = valid
    deep = b'{"model": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    _write(tmp_path / "deep.jaxnn", {**members, "config.json": deep})
    with pytest.raises(ValueError, match=r"deep.jaxnn'.*config.json nests deeper than 64 levels"):
        load_model(tmp_path / "deep.jaxnn")
    shallow_but_many = {"model": {"type": "serial", "layers": [{"type": "Flatten"}] * 10_001}}
    _write(tmp_path / "wide.jaxnn", {**members, "config.json": shallow_but_many})
    with pytest.raises(
        ValueError, match=r"config.json describes 10,002 layers \(the limit is 10,000\)"
    ):
        load_model(tmp_path / "wide.jaxnn")


def _tensors_without(members, name):
    tensors = read_safetensors(members["model.safetensors"])
    tensors.pop(name)
    return write_safetensors(tensors)


@pytest.mark.parametrize("name", ["step", "key"])
def test_a_missing_step_or_key_tensor_is_named(valid, tmp_path, name):
    path, members = valid
    _write(tmp_path / "t.jaxnn", {**members, "model.safetensors": _tensors_without(members, name)})
    with pytest.raises(ValueError, match=rf"t.jaxnn'.*model.safetensors lacks a '{name}' tensor"):
        load_model(tmp_path / "t.jaxnn")


def _with_header(members, edit):
    data = members["model.safetensors"]
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    edit(header)
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data[8 + n :]


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda h: h["params/dense/w"].update(shape=[3, 5]), r"data_offsets .* do not hold a F32 tensor of \[3, 5\]"),
        (lambda h: h["params/dense/w"].update(dtype="F64"), r"do not hold a F64 tensor"),
        (lambda h: h["params/dense/w"].update(dtype="PY"), r"dtype 'PY', not one of"),
        (lambda h: h["params/dense/w"].update(data_offsets=[0, 10**12]), r"data_offsets \[0, 1000000000000\] outside the data"),
        (lambda h: h.update(evil={"dtype": "F32", "shape": [0], "data_offsets": [0, 0], "x": 1}), r"tensor 'evil' must hold exactly dtype, shape and data_offsets"),
    ],
)  # fmt: skip
def test_the_safetensors_header_is_checked_before_the_tensors_are_read(
    valid, tmp_path, edit, match
):
    path, members = valid
    _write(tmp_path / "h.jaxnn", {**members, "model.safetensors": _with_header(members, edit)})
    with pytest.raises(ValueError, match=match):
        load_model(tmp_path / "h.jaxnn")


def test_a_tensor_that_does_not_fit_the_model_is_named_before_reading(valid, tmp_path):
    path, members = valid
    tensors = read_safetensors(members["model.safetensors"])
    tensors["params/dense/w"] = np.zeros((3, 5), np.float32)
    _write(tmp_path / "s.jaxnn", {**members, "model.safetensors": write_safetensors(tensors)})
    with pytest.raises(
        ValueError, match=r"params/dense/w has shape \(3, 5\) float32, the model expects \(3, 4\)"
    ):
        load_model(tmp_path / "s.jaxnn")
    tensors.pop("params/dense/w")
    tensors["params/zz"] = np.zeros(1, np.float32)
    _write(tmp_path / "s.jaxnn", {**members, "model.safetensors": write_safetensors(tensors)})
    with pytest.raises(
        ValueError, match=r"params/dense/w is missing; params/zz is not in the model"
    ):
        load_model(tmp_path / "s.jaxnn")


def _peak_mib(fn):
    tracemalloc.start()
    try:
        fn()
    except ValueError as error:
        message = str(error)
    else:
        message = ""
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak, message


def test_zip_bombs_are_refused_from_the_directory_in_bounded_memory(valid, tmp_path):
    path, members = valid
    # 256 MiB of spaces deflate to about 250 KiB: refused by its size before any inflating.
    blob = b" " * (256 * 2**20)
    _write(tmp_path / "bomb.jaxnn", {**members, "config.json": blob}, deflate={"config.json"})
    del blob
    assert (tmp_path / "bomb.jaxnn").stat().st_size < 2**20
    peak, message = _peak_mib(lambda: load_model(tmp_path / "bomb.jaxnn"))
    assert "config.json is 268,435,456 bytes (the limit is 4,194,304)" in message
    assert peak < 16
    # Tensors of zeros compressed 1000:1: refused by the ratio before the data is inflated.
    zeros = write_safetensors({"params/dense/w": np.zeros(64 * 2**20 // 4, np.float32)})
    bomb = {**members, "model.safetensors": zeros}
    _write(tmp_path / "tbomb.jaxnn", bomb, deflate={"model.safetensors"})
    peak, message = _peak_mib(lambda: load_model(tmp_path / "tbomb.jaxnn"))
    assert "model.safetensors would inflate from" in message and "ratio above 200:1" in message
    assert peak < 16


def _json_paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _json_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _json_paths(v, (*prefix, i))


def _set(value, path, new):
    if not path:
        return new
    value[path[-1] if len(path) == 1 else path[0]] = (
        new if len(path) == 1 else _set(value[path[0]], path[1:], new)
    )
    return value


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=10,
) | st.sampled_from(
    [{"__function__": "os:system"}, {"__tuple__": 1}, {"__dtype__": "V8"}, {"__layer__": []}]
)  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_mutation_of_a_valid_file_loads_or_raises_a_documented_error(valid, tmp_path, data):
    path, members = valid
    kind = data.draw(st.sampled_from(["bytes", "metadata.json", "config.json", "header"]))
    if kind == "bytes":
        raw = bytearray(path.read_bytes())
        for _ in range(data.draw(st.integers(1, 8))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        cut = data.draw(st.integers(len(raw) // 2, len(raw)))
        (tmp_path / "fuzz.jaxnn").write_bytes(bytes(raw[:cut]))
    elif kind == "header":
        names = sorted(k for k in read_safetensors(members["model.safetensors"]))
        name = data.draw(st.sampled_from(names))
        field = data.draw(st.sampled_from(["dtype", "shape", "data_offsets"]))
        new = data.draw(JSON | st.sampled_from(["F16", "I64", "BOOL", [1], [0, 4], [2, 2]]))
        blob = _with_header(members, lambda h: h[name].update({field: new}))
        _write(tmp_path / "fuzz.jaxnn", {**members, "model.safetensors": blob})
    else:
        value = json.loads(members[kind])
        where = data.draw(st.sampled_from(list(_json_paths(value))))
        value = _set(value, where, data.draw(JSON))
        _write(tmp_path / "fuzz.jaxnn", {**members, kind: json.dumps(value, allow_nan=True)})
    try:
        loaded = load_model(tmp_path / "fuzz.jaxnn")
    except ValueError as error:
        assert "fuzz.jaxnn" in str(error), str(error)
    else:
        assert isinstance(loaded.model, jaxnn.Layer)


def test_a_damaged_tensor_member_is_a_clear_error(valid, tmp_path):
    """Found by the mutation test: zipfile's own errors while the tensors are read."""
    path, members = valid
    raw = path.read_bytes()
    header = raw.index(b'{"__metadata__"')  # model.safetensors is stored, not deflated
    end = header + len(members["model.safetensors"]) - 8
    flipped = bytearray(raw)
    flipped[end - 1] ^= 0xFF  # a tensor byte: the member's CRC-32 no longer matches
    (tmp_path / "crc.jaxnn").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=r"'.*crc\.jaxnn' is not a readable jaxnn model file: "
                       r"model\.safetensors is damaged \(Bad CRC-32 for file"):  # fmt: skip
        load_model(tmp_path / "crc.jaxnn")
    renamed = bytearray(raw)
    local = raw.index(b"model.safetensors")  # its local header, before the data
    renamed[local] = 0
    (tmp_path / "name.jaxnn").write_bytes(bytes(renamed))
    with pytest.raises(ValueError, match=r"'.*name\.jaxnn' is not a readable jaxnn model file: "
                       r"model\.safetensors is damaged \(File name in directory"):  # fmt: skip
        load_model(tmp_path / "name.jaxnn")
