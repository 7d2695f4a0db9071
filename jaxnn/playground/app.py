"""The Playground's web server: a Starlette app with one training session per WebSocket.

Routes:

- ``GET /``: the page (``static/index.html``); ``/static/...``: its script and style sheet.
- ``GET /api/settings?<controls>``: the controls read, clamped and written back
  (``{"settings": {...}, "notes": [...]}``); 400 with the reason for text it cannot read.
  With ``tf_hash=<fragment>``, a TensorFlow Playground link's ``#...`` is read first
  (:func:`jaxnn.playground.tfhash.parse_tf_hash`; the other controls given win over it), and
  the reply adds ``"view"`` (``show_test``, ``discretize``) and ``"unmapped"``
  (``[{"key", "value", "reason"}, ...]``, the keys not applied).
- ``GET /api/code?<controls>&epochs=N``: the Python program of the "code" panel, as text.
- ``GET /api/sessions/<id>/model.jaxnn``: the session's trained network, written with
  :func:`jaxnn.save_model` (404 for a session that is gone).
- ``WS /ws``: the session. The page sends ``{"type": ...}`` messages: ``settings`` (with
  ``values``), ``play``, ``pause``, ``step``, ``reset``, ``regenerate`` and ``ack`` (a frame was
  drawn); the server sends ``hello`` (the session id), ``settings``, ``points``, ``frame``,
  ``state`` and ``error``.

Only pages of the server's own origin (and the ``allowed_origins``) may open the WebSocket or
call ``/api``: see :mod:`jaxnn.playground.origins`.

Training runs in worker threads (``asyncio.to_thread``), so the event loop stays free, and each
session sends its next frame only when the page has drawn the last one: a slow tab slows only
itself, and a closed tab ends only its own session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from jaxnn.playground.code import generate_code
from jaxnn.playground.origins import ORIGINS_ENV, OriginCheck, parse_origins
from jaxnn.playground.session import Session
from jaxnn.playground.settings import Settings, SettingsError, parse_settings
from jaxnn.playground.tfhash import parse_tf_hash

__all__ = ["STATIC", "create_app"]

STATIC = Path(__file__).parent / "static"
_ACK_TIMEOUT = 5.0  # seconds a frame may stay undrawn before the next one is sent anyway


class _Connection:
    """One page's session, its play loop and the lock that orders its work."""

    def __init__(self, websocket: WebSocket, max_rate: float) -> None:
        self.websocket = websocket
        self.session: Session | None = None
        self.lock = asyncio.Lock()
        self.drawn = asyncio.Event()
        self.play_task: asyncio.Task | None = None
        self.stopping = False
        self.min_interval = 1.0 / max_rate

    async def send(self, message: dict[str, Any]) -> None:
        await self.websocket.send_text(json.dumps(message))

    async def run(self, method: str, *args: Any) -> Any:
        """Calls a Session method in a worker thread, one at a time per session."""
        async with self.lock:
            assert self.session is not None  # set before any message is handled
            return await asyncio.to_thread(getattr(self.session, method), *args)

    async def send_frame(self, frame: dict[str, Any]) -> None:
        self.drawn.clear()
        await self.send({"type": "frame", **frame})

    async def play(self) -> None:
        """Trains and sends frames until paused or the page is gone, one epoch per frame."""
        try:
            await self._play()
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the page closed mid-send: the receive loop ends the session

    async def _play(self) -> None:
        # The flag, not only the cancellation, ends the loop: Python 3.11's wait_for can swallow
        # a cancel that arrives as the page's acknowledgement completes it.
        while not self.stopping:
            start = time.perf_counter()
            # Shielded: a pause cancels the wait, not the epoch, which keeps the session's lock
            # until it ends, so the next command never runs beside it.
            frame = await asyncio.shield(self.run("train", 1))
            await self.send_frame(frame)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drawn.wait(), _ACK_TIMEOUT)
            await asyncio.sleep(max(0.0, self.min_interval - (time.perf_counter() - start)))

    async def pause(self) -> None:
        if self.play_task is not None:
            self.stopping = True
            self.play_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await self.play_task
            self.play_task = None


def create_app(
    *,
    max_updates_per_second: float = 60.0,
    allowed_origins: Sequence[str] = (),
    hosts: Iterable[str] | None = None,
) -> Starlette:
    """The Playground's ASGI app (serve it with Uvicorn, as ``jaxnn playground`` does).

    Args:
        max_updates_per_second: The most frames a playing session sends per second (default
            60, a screen's refresh rate); each frame is one epoch of training.
        allowed_origins: Origins besides the server's own whose pages may use it, e.g.
            ``["https://class.example.org"]`` for a classroom behind a proxy; the environment
            variable ``JAXNN_PLAYGROUND_ORIGINS`` (origins separated by commas or spaces)
            adds more.
        hosts: The names the server answers to, ``host[:port]``
            (:func:`jaxnn.playground.origins.local_hosts` for a loopback server); a request
            under another name is refused (DNS rebinding). ``None`` (default): any.

    Returns:
        A Starlette application.

    Raises:
        ValueError: If an allowed origin, from the argument or the environment, is not an
            origin (``scheme://host[:port]``); the message names where it came from.

    Example:
        >>> from starlette.testclient import TestClient
        >>> client = TestClient(create_app())
        >>> client.get("/api/settings", params={"hidden": "4,12"}).json()["settings"]["hidden"]
        '4,8'
        >>> client.get("/api/settings", params={"noise": "lots"}).status_code
        400
        >>> reply = client.get("/api/settings", params={"tf_hash": "#networkShape=3&cosX=true"})
        >>> reply.json()["settings"]["hidden"], reply.json()["unmapped"][0]["key"]
        ('3', 'cosX')
    """
    connections: dict[str, _Connection] = {}

    async def index(request: Request) -> Response:
        del request
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def settings_endpoint(request: Request) -> Response:
        values = dict(request.query_params)
        tf_hash = values.pop("tf_hash", None)
        try:
            link = None if tf_hash is None else parse_tf_hash(tf_hash)
            settings, notes = parse_settings(values if link is None else link.controls | values)
        except SettingsError as error:
            return PlainTextResponse(str(error), status_code=400)
        reply: dict[str, Any] = {"settings": settings.to_query(), "notes": notes}
        if link is not None:
            reply["view"] = link.view
            reply["unmapped"] = [
                {"key": key, "value": value, "reason": reason}
                for key, value, reason in link.unmapped
            ]
        return JSONResponse(reply)

    async def code_endpoint(request: Request) -> Response:
        values = dict(request.query_params)
        epochs_text = values.pop("epochs", "100")
        try:
            settings, _ = parse_settings(values)
            epochs = int(epochs_text)
            if not 0 <= epochs <= 1_000_000:
                raise ValueError
        except SettingsError as error:
            return PlainTextResponse(str(error), status_code=400)
        except ValueError:
            return PlainTextResponse(
                f"epochs must be a whole number in [0, 1000000]; got {epochs_text!r}.",
                status_code=400,
            )
        return PlainTextResponse(generate_code(settings, epochs=epochs))

    async def model_endpoint(request: Request) -> Response:
        connection = connections.get(request.path_params["session"])
        if connection is None or connection.session is None:
            return PlainTextResponse(
                "no such session: it ended when its page was closed; train again and save.",
                status_code=404,
            )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "playground.jaxnn"
            await connection.run("save", path)
            content = path.read_bytes()
        headers = {"Content-Disposition": 'attachment; filename="playground.jaxnn"'}
        return Response(content, media_type="application/zip", headers=headers)

    async def websocket_endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        session_id = secrets.token_urlsafe(12)
        connection = _Connection(websocket, max_updates_per_second)
        connections[session_id] = connection
        try:
            await connection.send({"type": "hello", "session": session_id})
            while True:
                text = await websocket.receive_text()
                await _handle(connection, text)
        except WebSocketDisconnect:
            pass
        except RuntimeError:
            # Starlette's "cannot send once closed": the page closed while a reply was on its way.
            if _open(websocket):
                raise
        finally:
            await connection.pause()
            connections.pop(session_id, None)

    routes = [
        Route("/", index),
        Route("/api/settings", settings_endpoint),
        Route("/api/code", code_endpoint),
        Route("/api/sessions/{session}/model.jaxnn", model_endpoint),
        WebSocketRoute("/ws", websocket_endpoint),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    origins = parse_origins(allowed_origins, name="create_app: allowed_origins")
    from_env = os.environ.get(ORIGINS_ENV, "").replace(",", " ").split()
    origins |= parse_origins(from_env, name=f"the environment variable {ORIGINS_ENV}")
    check = Middleware(OriginCheck, allowed_origins=origins, hosts=hosts)
    return Starlette(routes=routes, middleware=[check])


def _open(websocket: WebSocket) -> bool:
    connected = WebSocketState.CONNECTED
    return websocket.client_state == connected and websocket.application_state == connected


_COMMANDS = ("settings", "play", "pause", "step", "reset", "regenerate", "ack")


async def _handle(connection: _Connection, text: str) -> None:
    """Acts on one message from the page; a malformed one gets an ``error`` message back."""
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        await connection.send({"type": "error", "message": "a message must be JSON."})
        return
    kind = message.get("type") if isinstance(message, dict) else None
    if kind not in _COMMANDS:
        await connection.send(
            {
                "type": "error",
                "message": f"unknown message type {kind!r}; known: {', '.join(_COMMANDS)}.",
            }
        )
        return
    if kind == "ack":
        connection.drawn.set()
        return
    if connection.session is None and kind != "settings":
        await connection.send({"type": "error", "message": "send the settings first."})
        return
    try:
        await _command(connection, kind, message)
    except (SettingsError, ValueError, TypeError) as error:
        await connection.send({"type": "error", "message": str(error)})


async def _command(connection: _Connection, kind: str, message: dict[str, Any]) -> None:
    if kind == "settings":
        values = message.get("values", {})
        if not isinstance(values, dict):
            raise SettingsError(f"values must be an object; got {type(values).__name__}.")
        await _apply_settings(connection, values)
    elif kind == "play":
        if connection.play_task is None:
            connection.stopping = False
            connection.play_task = asyncio.create_task(connection.play())
    elif kind == "pause":
        await connection.pause()
    elif kind == "step":
        await connection.pause()
        await connection.send_frame(await connection.run("train", 1))
    elif kind == "reset":
        await connection.run("reset")
        await connection.send_frame(await connection.run("frame"))
    elif kind == "regenerate":
        assert connection.session is not None
        seed = secrets.randbelow(100_000)
        await connection.run("regenerate", seed)
        await _send_setup(connection, connection.session.settings, [])
    await connection.send({"type": "state", "playing": connection.play_task is not None})


async def _apply_settings(connection: _Connection, values: dict[str, Any]) -> None:
    base = connection.session.settings if connection.session else Settings()
    settings, notes = parse_settings(values, base)
    if connection.session is None:
        connection.session = await asyncio.to_thread(Session, settings)
    else:
        await connection.run("update", settings)
    await _send_setup(connection, settings, notes)


async def _send_setup(connection: _Connection, settings: Settings, notes: list[str]) -> None:
    await connection.send({"type": "settings", "settings": settings.to_query(), "notes": notes})
    await connection.send({"type": "points", **(await connection.run("points"))})
    await connection.send_frame(await connection.run("frame"))
