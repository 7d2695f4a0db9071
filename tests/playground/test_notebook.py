"""The Playground inside a notebook cell: jaxnn.playground.notebook serves it from a thread."""

from __future__ import annotations

import socket
import sys
import urllib.request

import pytest

pytest.importorskip("uvicorn")

from jaxnn.playground import notebook  # noqa: E402


def test_the_server_serves_the_page_shows_it_in_an_iframe_and_stops():
    pg = notebook(height=500)
    try:
        assert pg.running and pg.url == f"http://127.0.0.1:{pg.port}/"
        page = urllib.request.urlopen(pg.url, timeout=10).read().decode()
        assert "<title>jaxnn Playground</title>" in page
        html = pg._repr_html_()
        assert f'<iframe src="{pg.url}" width="100%" height="500"' in html
        assert repr(pg) == f"NotebookPlayground(url={pg.url!r}, running)"
    finally:
        pg.stop()
    assert not pg.running and repr(pg).endswith("stopped)")
    with pytest.raises(OSError):  # nothing listens any more
        socket.create_connection(("127.0.0.1", pg.port), timeout=2).close()


def test_a_port_in_use_is_named():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=rf"port {port} on 127.0.0.1 is not free"):
            notebook(port)


def test_without_the_playground_extra_the_error_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(ImportError, match=r"pip install 'jaxnn\[playground\]'"):
        notebook()
