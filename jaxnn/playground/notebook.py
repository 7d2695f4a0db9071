"""The Playground inside a notebook cell: the server in a background thread, the page in an IFrame.

:func:`notebook` binds a port on 127.0.0.1, serves the Playground's app with Uvicorn in a daemon
thread, and returns a :class:`NotebookPlayground`, which a notebook shows as the page in an
``<iframe>``. ``stop()`` (or leaving a ``with`` block) ends the server. The browser showing the
notebook must be able to reach ``127.0.0.1`` on the kernel's machine, as with a local JupyterLab;
on a remote JupyterHub forward the port or run ``jaxnn playground`` there instead.

The web server needs the ``playground`` extra: ``pip install 'jaxnn[playground]'``.
"""

from __future__ import annotations

import html
import socket
import threading
import time
from typing import Any

__all__ = ["NotebookPlayground", "notebook"]

_HOST = "127.0.0.1"


class NotebookPlayground:
    """A running Playground server; shown in a notebook as the page in an IFrame.

    Attributes:
        url: The page's address, ``http://127.0.0.1:<port>/``.
        port: The port it serves on.
        width: The IFrame's width (CSS, default ``"100%"``).
        height: The IFrame's height in pixels.
    """

    def __init__(self, server: Any, thread: threading.Thread, port: int, *, height: int) -> None:
        """Wraps a started Uvicorn server and its thread (made by :func:`notebook`)."""
        self._server, self._thread = server, thread
        self.port = port
        self.url = f"http://{_HOST}:{port}/"
        self.width, self.height = "100%", height

    @property
    def running(self) -> bool:
        """Whether the server thread is still serving."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stops the server and waits up to ``timeout`` seconds for its thread to end."""
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> NotebookPlayground:
        """``with notebook() as pg:`` stops the server at the end of the block."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Stops the server."""
        self.stop()

    def _repr_html_(self) -> str:
        """The page in an IFrame, and a link to open it in a tab of its own."""
        src = html.escape(self.url, quote=True)
        return (
            f'<iframe src="{src}" width="{self.width}" height="{self.height}" '
            f'style="border: 1px solid #ccc" title="The jaxnn Playground"></iframe>'
            f'<div>The jaxnn Playground at <a href="{src}" target="_blank">{src}</a>; '
            "<code>.stop()</code> ends it.</div>"
        )

    def __repr__(self) -> str:
        """The address and whether the server runs."""
        state = "running" if self.running else "stopped"
        return f"NotebookPlayground(url={self.url!r}, {state})"


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((_HOST, port))
    except OSError as error:
        sock.close()
        raise OSError(
            f"jaxnn.playground.notebook: port {port} on {_HOST} is not free ({error.strerror}); "
            f"pass another port, or port=None for any free one."
        ) from error
    sock.listen(128)
    return sock


def notebook(port: int | None = None, *, height: int = 720, timeout: float = 10.0) -> Any:
    """Starts the Playground's server in a background thread; the result shows the page.

    Put it last in a cell (``jaxnn.playground.notebook()``) and the cell shows the Playground,
    which trains on the kernel's machine. Call ``.stop()`` on the result to end the server.

    Args:
        port: The port on 127.0.0.1 (default ``None``: any free port).
        height: The IFrame's height in pixels (default 720).
        timeout: Seconds to wait for the server to start (default 10).

    Returns:
        A :class:`NotebookPlayground` (``url``, ``port``, ``stop()``, shown as an IFrame).

    Raises:
        ImportError: Without the playground extra; the message names it.
        OSError: If ``port`` is taken, or the server did not start within ``timeout``.
    """
    try:
        import uvicorn

        from jaxnn.playground.app import create_app
        from jaxnn.playground.origins import local_hosts
    except ImportError as error:
        raise ImportError(
            "jaxnn.playground.notebook needs the playground extra: "
            f"pip install 'jaxnn[playground]' ({error})."
        ) from error
    sock = _bind(0 if port is None else port)
    bound = sock.getsockname()[1]
    app = create_app(hosts=local_hosts(bound))
    from uvicorn.config import WS_PROTOCOLS

    ws = "websockets-sansio" if "websockets-sansio" in WS_PROTOCOLS else "websockets"
    config = uvicorn.Config(app, log_config=None, log_level="warning", ws=ws)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"jaxnn-playground-{bound}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise OSError(f"jaxnn.playground.notebook: the server did not start in {timeout} s.")
        time.sleep(0.02)
    return NotebookPlayground(server, thread, bound, height=height)
