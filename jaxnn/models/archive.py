"""Reading a model file as untrusted input: sizes first, then one schema, then the tensors.

A model file is a zip archive of ``metadata.json``, ``config.json`` and ``model.safetensors``.
Every check here runs before the part it guards is inflated, parsed or built:

================================  =============================================================
limit                             value
================================  =============================================================
members in the archive            at most :data:`MAX_MEMBERS`
a JSON member, inflated           at most :data:`MAX_JSON_BYTES` (4 MiB)
JSON nesting                      at most :data:`MAX_DEPTH` levels
layers in the config              at most :data:`MAX_LAYERS`
compression ratio of a member     at most :data:`MAX_RATIO` : 1 beyond its first MiB (a zip
                                  bomb stops here, before anything is inflated)
the safetensors header            at most :data:`MAX_HEADER_BYTES`, every tensor's offsets
                                  consistent with its dtype and shape, and the names, shapes
                                  and dtypes those of the model (checked before the data is read)
================================  =============================================================

Sizes in the zip directory are read first, and a member is then read with a cap, so a
directory that lies about a size is caught too. Each failure is a ``ValueError`` that names the
file and the member or field.
"""

from __future__ import annotations

import contextlib
import json
import math
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from jaxnn.precision import POLICIES

__all__ = [
    "MAX_DEPTH",
    "MAX_HEADER_BYTES",
    "MAX_JSON_BYTES",
    "MAX_LAYERS",
    "MAX_MEMBERS",
    "MAX_RATIO",
    "Archive",
    "check_config",
    "check_fit_kwargs",
    "check_metadata",
    "corrupt",
    "read_archive",
]

MAX_MEMBERS = 16
MAX_JSON_BYTES = 4 * 2**20
MAX_DEPTH = 64
MAX_LAYERS = 10_000
MAX_RATIO = 200
MAX_HEADER_BYTES = 16 * 2**20
MAX_DIMS = 16
KEY_IMPLS = ("threefry2x32", "rbg", "unsafe_rbg")
ENTRIES = ("config.json", "metadata.json", "model.safetensors")
# safetensors dtype codes and their NumPy dtypes (bfloat16 through ml_dtypes, a jax dependency).
_DTYPES = {
    "BOOL": "bool", "U8": "uint8", "I8": "int8", "U16": "uint16", "I16": "int16",
    "U32": "uint32", "I32": "int32", "U64": "uint64", "I64": "int64", "F16": "float16",
    "BF16": "bfloat16", "F32": "float32", "F64": "float64",
}  # fmt: skip


def corrupt(path: Path, why: str) -> ValueError:
    """The error for a file that is not a readable model file, naming it and the reason."""
    return ValueError(f"load_model: {str(path)!r} is not a readable jaxnn model file: {why}.")


_ZIP_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError, RuntimeError)


@contextlib.contextmanager
def _zip_errors(path: Path, member: str = "") -> Iterator[None]:
    """Turns what zipfile raises for a damaged archive into :func:`corrupt`'s ValueError."""
    where = f"{member} is damaged" if member else "not a complete zip archive, truncated or corrupt"
    try:
        yield
    except _ZIP_ERRORS as error:
        raise corrupt(path, f"{where} ({error})") from None
    except OSError as error:
        raise corrupt(path, f"it cannot be read as a zip archive ({error})") from None


class Archive:
    """An opened model file: its parsed JSON members and its safetensors member, unread."""

    def __init__(self, path: Path, metadata: Any, config: Any, tensors: zipfile.ZipInfo):
        """Records what :func:`read_archive` checked."""
        self.path, self.metadata, self.config, self.tensors_info = path, metadata, config, tensors

    def tensor_header(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """The safetensors header, checked for consistency: name -> (shape, dtype)."""
        with (
            _zip_errors(self.path, "model.safetensors"),
            zipfile.ZipFile(self.path) as archive,
            archive.open(self.tensors_info) as f,
        ):
            head = f.read(8)
            if len(head) < 8:
                raise corrupt(self.path, "model.safetensors is shorter than its 8-byte header")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER_BYTES or n > self.tensors_info.file_size - 8:
                raise corrupt(
                    self.path,
                    f"model.safetensors declares a header of {n:,} bytes (the member holds "
                    f"{self.tensors_info.file_size:,}; the limit is {MAX_HEADER_BYTES:,})",
                )
            text = f.read(n)
        header = _parse_json(self.path, "model.safetensors header", text)
        if not isinstance(header, dict):
            raise corrupt(self.path, "the model.safetensors header is not a JSON object")
        return _check_tensor_header(self.path, header, self.tensors_info.file_size - 8 - n)

    def tensor_bytes(self) -> bytes:
        """The whole safetensors member (call after :meth:`tensor_header` passed the model)."""
        with _zip_errors(self.path, "model.safetensors"), zipfile.ZipFile(self.path) as archive:
            return _read_member(self.path, archive, self.tensors_info, self.tensors_info.file_size)


def _check_tensor_header(
    path: Path, header: dict[str, Any], data_bytes: int
) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    out, spans = {}, []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        where = f"model.safetensors tensor {name[:80]!r}"
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise corrupt(path, f"{where} must hold exactly dtype, shape and data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise corrupt(
                path, f"{where} has dtype {str(dtype)[:20]!r}, not one of {sorted(_DTYPES)}"
            )
        if not _int_list(shape, 0, 2**40) or len(shape) > MAX_DIMS:
            raise corrupt(path, f"{where} has shape {str(shape)[:80]}, not a list of sizes >= 0")
        if not _int_list(offsets, 0, data_bytes) or len(offsets) != 2:
            raise corrupt(path, f"{where} has data_offsets {str(offsets)[:80]} outside the data")
        np_dtype = np.dtype(_DTYPES[dtype])
        if offsets[1] - offsets[0] != math.prod(shape) * np_dtype.itemsize:
            raise corrupt(
                path, f"{where}: its data_offsets {offsets} do not hold a {dtype} tensor of {shape}"
            )
        out[name] = (tuple(shape), np_dtype)
        spans.append(tuple(offsets))
    spans.sort()
    end = 0
    for start, stop in spans:
        if start != end:
            raise corrupt(path, "the tensors in model.safetensors overlap or leave gaps")
        end = stop
    if end != data_bytes:
        raise corrupt(
            path, f"model.safetensors holds {data_bytes:,} data bytes, its tensors {end:,}"
        )
    return out


def _int_list(value: Any, low: int, high: int) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and low <= v <= high for v in value
    )


def _read_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A member's bytes, never more than ``limit`` + 1 inflated whatever its directory says."""
    with archive.open(info) as f:
        data = f.read(limit + 1)
    if len(data) != info.file_size or len(data) > limit:
        raise corrupt(
            path,
            f"{info.filename} inflates to {'more than ' if len(data) > limit else ''}"
            f"{len(data):,} bytes, but the zip directory says {info.file_size:,}",
        )
    return data


def _parse_json(path: Path, what: str, data: bytes) -> Any:
    try:
        value = json.loads(data)
    except RecursionError:
        raise corrupt(path, f"{what} nests deeper than {MAX_DEPTH} levels") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise corrupt(path, f"{what} is not valid JSON ({error})") from None
    if _depth(value) > MAX_DEPTH:
        raise corrupt(path, f"{what} nests deeper than {MAX_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    """The nesting depth of a JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            return level
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        stack.extend((child, level + 1) for child in children)
    return deepest


def read_archive(path: Path) -> Archive:
    """Opens ``path`` and reads its JSON members within the limits; the tensors stay unread.

    Raises:
        FileNotFoundError: If there is no file.
        ValueError: For a file that is not a zip, lacks a member, or breaks a limit.
    """
    if not path.is_file():
        raise FileNotFoundError(f"load_model: no file at {str(path)!r}.")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = [i.filename for i in infos]
            if len(infos) > MAX_MEMBERS or len(set(names)) != len(names):
                raise corrupt(path, f"the archive holds {len(infos)} members, some twice or more "
                              f"than {MAX_MEMBERS}")  # fmt: skip
            missing = [n for n in ENTRIES if n not in names]
            if missing:
                hint = (
                    " It looks like a Keras file: use jaxnn.interop.from_keras."
                    if any(n.endswith(".h5") for n in names)
                    else ""
                )
                raise corrupt(path, f"the archive lacks {missing} (it holds {names[:8]}).{hint}")
            by_name = {i.filename: i for i in infos}
            for info in by_name.values():
                _check_size(path, info)
            metadata, config = (
                _parse_json(path, n, _read_member(path, archive, by_name[n], MAX_JSON_BYTES))
                for n in ("metadata.json", "config.json")
            )
            return Archive(path, metadata, config, by_name["model.safetensors"])
    except _ZIP_ERRORS as error:
        raise corrupt(path, f"not a complete zip archive, truncated or corrupt ({error})") from None
    except OSError as error:
        raise corrupt(path, f"it cannot be read as a zip archive ({error})") from None


def _check_size(path: Path, info: zipfile.ZipInfo) -> None:
    if info.filename.endswith(".json") and info.file_size > MAX_JSON_BYTES:
        raise corrupt(
            path, f"{info.filename} is {info.file_size:,} bytes (the limit is {MAX_JSON_BYTES:,})"
        )
    bomb = info.file_size > MAX_RATIO * max(info.compress_size, 1) + 2**20
    if bomb and info.filename == "model.safetensors":
        raise corrupt(
            path,
            f"{info.filename} would inflate from {info.compress_size:,} to {info.file_size:,} "
            f"bytes, a ratio above {MAX_RATIO}:1 (a zip bomb?)",
        )


def _field(path: Path, obj: dict, name: str, kinds: Any, what: str, *, required: bool) -> Any:
    if name not in obj:
        if required:
            raise corrupt(path, f"{what} lacks the field {name!r}")
        return None
    value = obj[name]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _tuple(kinds)):
        raise corrupt(
            path, f"{what} field {name!r} is {str(value)[:60]!r}, expected {_kind_names(kinds)}"
        )
    return value


def _tuple(kinds: Any) -> tuple:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def _kind_names(kinds: Any) -> str:
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        int: "an integer",
        bool: "true/false",
    }
    return " or ".join(names.get(k, k.__name__) for k in _tuple(kinds))


def check_metadata(path: Path, metadata: Any, format_name: str, version: int) -> None:
    """Checks ``metadata.json`` against the schema; raises a ValueError naming the field."""
    if not isinstance(metadata, dict) or metadata.get("format") != format_name:
        raise corrupt(path, f"metadata.json does not name the format {format_name!r}")
    found = _field(path, metadata, "format_version", int, "metadata.json", required=True)
    if found > version or found < 1:
        raise ValueError(
            f"load_model: {str(path)!r} has format version {found!r}, written by jaxnn "
            f"{str(metadata.get('jaxnn_version'))[:40]}; this jaxnn reads versions up to "
            f"{version}. Upgrade jaxnn (pip install -U jaxnn)."
        )
    for name in ("jaxnn_version", "jax_version", "created"):
        _field(path, metadata, name, str, "metadata.json", required=False)
    _field(path, metadata, "has_opt_state", bool, "metadata.json", required=False)
    shape = _field(path, metadata, "input_shape", list, "metadata.json", required=True)
    if not shape or len(shape) > MAX_DIMS or not _int_list(shape, -1, 2**31):
        raise corrupt(
            path,
            f"metadata.json field 'input_shape' is {str(shape)[:60]}, expected a list of 1 to "
            f"{MAX_DIMS} sizes (-1 for the batch axis)",
        )
    key = _field(path, metadata, "key", dict, "metadata.json", required=True)
    _field(path, key, "typed", bool, "metadata.json key", required=True)
    impl = _field(path, key, "impl", (str, type(None)), "metadata.json key", required=True)
    if key["typed"] and impl not in KEY_IMPLS:
        raise corrupt(path, f"metadata.json key impl {str(impl)[:40]!r} is not one of {KEY_IMPLS}")


def check_config(path: Path, config: Any) -> None:
    """Checks ``config.json``'s top level and the layer count; the layers are checked as built."""
    if not isinstance(config, dict):
        raise corrupt(path, "config.json is not a JSON object")
    extra = set(config) - {"model", "fit_kwargs", "fit_kwargs_not_saved"}
    if extra:
        raise corrupt(path, f"config.json has unknown fields {sorted(extra)[:5]}")
    _field(path, config, "model", dict, "config.json", required=True)
    _field(path, config, "fit_kwargs", dict, "config.json", required=False)
    skipped = _field(path, config, "fit_kwargs_not_saved", dict, "config.json", required=False)
    if skipped and not all(isinstance(v, str) for v in skipped.values()):
        raise corrupt(path, "config.json field 'fit_kwargs_not_saved' must map names to strings")
    layers = _count_layers(config["model"])
    if layers > MAX_LAYERS:
        raise corrupt(
            path, f"config.json describes {layers:,} layers (the limit is {MAX_LAYERS:,})"
        )


def _count_layers(model: Any) -> int:
    count, stack = 0, [model]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            count += "type" in item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def _number(value: Any, *, low: float, high: float = math.inf) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and low <= value <= high
    )


# fit's arguments a file records, and what each must be once decoded.
_FIT_FIELDS: dict[str, tuple[str, Any]] = {
    "loss": ("a loss name or function", lambda v: v is None or isinstance(v, str) or callable(v)),
    "optimizer": ("an optimizer name", lambda v: v is None or isinstance(v, str)),
    "learning_rate": ("a finite number > 0", lambda v: v is None or _number(v, low=1e-300)),
    "clip_norm": ("a finite number > 0", lambda v: v is None or _number(v, low=1e-300)),
    "freeze": ("a list of path strings", lambda v: isinstance(v, list)
               and all(isinstance(p, str) for p in v)),
    "metrics": ("a list of metric names or functions", lambda v: isinstance(v, list)
                and all(isinstance(m, str) or callable(m) for m in v)),
    "batch_size": ("an integer >= 1", lambda v: v is None or (_number(v, low=1)
                   and isinstance(v, int))),
    "validation_split": ("a number in [0, 1)", lambda v: v is None
                         or _number(v, low=0, high=0.999999)),
    "shuffle": ("true or false", lambda v: isinstance(v, bool)),
    "class_weight": ("an object of class weights", lambda v: v is None or isinstance(v, dict)),
    "regularizer": ("a function", lambda v: v is None or callable(v)),
    "seed": ("an integer", lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool))),
    "precision": ("one of " + ", ".join(POLICIES), lambda v: v in POLICIES),
    "initial_epoch": ("an integer >= 0", lambda v: isinstance(v, int) and not isinstance(v, bool)
                      and 0 <= v < 2**31),
    "steps_per_epoch": ("an integer >= 1", lambda v: v is None or (isinstance(v, int)
                        and not isinstance(v, bool) and v >= 1)),
    "input_position": ("an object (where a stream of batches stood)",
                       lambda v: v is None or isinstance(v, dict)),
}  # fmt: skip


def check_fit_kwargs(fit_kwargs: dict[str, Any], where: str) -> None:
    """Checks the decoded ``fit_kwargs`` of ``config.json``: known names, each of its kind."""
    unknown = sorted(set(fit_kwargs) - set(_FIT_FIELDS))
    if unknown:
        raise ValueError(
            f"{where}: unknown fit arguments {unknown[:5]}; known: "
            f"{', '.join(sorted(_FIT_FIELDS))}."
        )
    for name, value in fit_kwargs.items():
        expected, ok = _FIT_FIELDS[name]
        if not ok(value):
            raise ValueError(f"{where}: {name!r} is {str(value)[:60]!r}; expected {expected}.")
