"""IDX parsing, the cache, and the real download code against a server on 127.0.0.1."""

import functools
import gzip
import hashlib
import http.server
import socket
import threading

import numpy as np
import pytest

from jaxnn import data
from jaxnn.data import idx as mnist_module
from jaxnn.data.download import fetch


def idx_bytes(array):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + np.array(array.shape, ">i4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


RNG = np.random.default_rng(0)
ARRAYS = {
    "x_train": RNG.integers(0, 256, (6, 28, 28)).astype(np.uint8),
    "y_train": RNG.integers(0, 10, 6).astype(np.uint8),
    "x_test": RNG.integers(0, 256, (3, 28, 28)).astype(np.uint8),
    "y_test": RNG.integers(0, 10, 3).astype(np.uint8),
}
NAMES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
FILES = {NAMES[k]: gzip.compress(idx_bytes(v)) for k, v in ARRAYS.items()}


def test_load_idx_plain_gzip_and_dtypes(tmp_path):
    for dtype in (np.uint8, np.int32, np.float32):
        a = np.arange(24).reshape(2, 3, 4).astype(dtype)
        (tmp_path / "a.idx").write_bytes(idx_bytes(a))
        (tmp_path / "a.idx.gz").write_bytes(gzip.compress(idx_bytes(a)))
        for name in ("a.idx", "a.idx.gz"):
            got = data.load_idx(tmp_path / name)
            np.testing.assert_array_equal(got, a)
            assert got.dtype == a.dtype


def test_load_idx_errors(tmp_path):
    good = idx_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3))
    (tmp_path / "magic").write_bytes(b"\x01\x02" + good[2:])
    with pytest.raises(
        ValueError,
        match=r"does not start with an IDX magic number \(0x0000, type, ndim\); got bytes \[1, 2, 8, 2\]",
    ):
        data.load_idx(tmp_path / "magic")
    (tmp_path / "code").write_bytes(b"\x00\x00\x07\x01" + good[4:])
    with pytest.raises(ValueError, match="has unknown type code 0x07"):
        data.load_idx(tmp_path / "code")
    (tmp_path / "short").write_bytes(good[:-2])
    with pytest.raises(
        ValueError,
        match=r"declares dimensions \(2, 3\) \(6 bytes of data\) but holds 4 bytes; the file is truncated or corrupt",
    ):
        data.load_idx(tmp_path / "short")
    (tmp_path / "cut.gz").write_bytes(gzip.compress(good)[:-6])
    with pytest.raises(ValueError, match="is not a complete gzip file"):
        data.load_idx(tmp_path / "cut.gz")


class Server:
    """Serves a dict of files on 127.0.0.1; counts requests."""

    def __init__(self, files):
        self.files, self.requests = files, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append(name)
                body = server.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/data/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server(dict(FILES))
    yield s
    s.close()


def dead_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"  # nothing listens there any more


def spec(mirrors, checksums=None):
    sums = checksums or {name: hashlib.sha256(body).hexdigest() for name, body in FILES.items()}
    files = {role: (NAMES[role], sums[NAMES[role]]) for role in NAMES}
    return mnist_module._Spec("mnist", tuple(mirrors), files)


def test_download_verify_cache_and_reuse(tmp_path, server):
    (xtr, ytr), (xte, yte) = mnist_module._load(spec([dead_url(), server.url]), tmp_path, True)
    np.testing.assert_array_equal(xtr, ARRAYS["x_train"])
    np.testing.assert_array_equal(yte, ARRAYS["y_test"])
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(FILES)
    assert len(server.requests) == 4
    mnist_module._load(spec([server.url]), tmp_path, True)  # cached and verified: no new request
    assert len(server.requests) == 4


def test_truncated_download_leaves_no_file(tmp_path, server):
    name = NAMES["x_train"]
    server.files[name] = FILES[name][:100]
    with pytest.raises(
        OSError,
        match=r"Could not download train-images-idx3-ubyte.gz: .*SHA-256 .* does not match the expected .*copy train-images-idx3-ubyte.gz \(SHA-256 [0-9a-f]{64}\) into",
    ):
        mnist_module._load(spec([server.url]), tmp_path, True)
    assert not (tmp_path / "mnist" / name).exists()
    assert not [
        p for p in (tmp_path / "mnist").iterdir() if p.name.startswith(".")
    ]  # no temp files


def test_bad_checksum_is_rejected(tmp_path, server):
    sums = {name: hashlib.sha256(body).hexdigest() for name, body in FILES.items()}
    sums[NAMES["y_test"]] = "0" * 64
    with pytest.raises(
        OSError, match="t10k-labels-idx1-ubyte.gz: .*does not match the expected 0000"
    ):
        mnist_module._load(spec([server.url], sums), tmp_path, True)


def test_dead_servers_give_the_offline_message(tmp_path):
    with pytest.raises(
        OSError,
        match=r"Could not download t10k-labels-idx1-ubyte.gz: .*Connection refused.*If this machine is offline, copy t10k-labels-idx1-ubyte.gz \(SHA-256 0{64}\) into",
    ):
        fetch(
            NAMES["y_test"],
            sha256="0" * 64,
            mirrors=[dead_url(), dead_url()],
            directory=tmp_path,
            timeout=2,
        )


def test_download_false_and_cached_files(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.keras/datasets/mnist.npz here
    with pytest.raises(
        FileNotFoundError,
        match=r"mnist: train-images-idx3-ubyte.gz is not in .* and download=False",
    ):
        data.mnist(cache_dir=tmp_path, download=False)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for role, array in ARRAYS.items():  # plain IDX files, as a user would unpack them
        (folder / NAMES[role].removesuffix(".gz")).write_bytes(idx_bytes(array))
    (xtr, _), (_, yte) = data.mnist(cache_dir=tmp_path, download=False)
    np.testing.assert_array_equal(xtr, ARRAYS["x_train"])
    np.testing.assert_array_equal(yte, ARRAYS["y_test"])
    monkeypatch.setenv("JAXNN_DATA", str(tmp_path))
    np.testing.assert_array_equal(data.mnist(download=False)[0][1], ARRAYS["y_train"])


def test_keras_npz_is_accepted(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    folder = tmp_path / "mnist"
    folder.mkdir()
    np.savez(folder / "mnist.npz", **ARRAYS)
    (xtr, ytr), _ = data.mnist(cache_dir=tmp_path, download=False)
    np.testing.assert_array_equal(xtr, ARRAYS["x_train"])


def test_official_checksums_are_pinned():
    for s in (mnist_module._MNIST, mnist_module._FASHION):
        assert len(s.files) == 4 and all(len(sha) == 64 for _, sha in s.files.values())
    assert functools.reduce(
        set.union, ({f for f, _ in s.files.values()} for s in (mnist_module._MNIST,)), set()
    ) == set(FILES)
