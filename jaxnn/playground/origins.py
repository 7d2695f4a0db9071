"""Which pages may drive the Playground's server: its own origin and an allow-list.

Any web page open in the browser can open a WebSocket to ``ws://127.0.0.1:8000/ws`` or send
requests to the Playground, and the browser lets it: only the ``Origin`` header, which the
browser sets and a page cannot forge, tells the server which site the page comes from.
:class:`OriginCheck` refuses every request that comes from a page of another site (cross-site
WebSocket hijacking), apart from the origins of an allow-list (a classroom behind a proxy).

The own origin is the one of the address the browser asked for: ``http://`` or ``https://``
followed by the request's ``Host`` header. The page and its files (``/`` and ``/static/...``)
are open to every page, as links into the Playground need; everything else checks:

- the WebSocket: its ``Origin`` must be the own origin or an allowed one. A browser always
  sends it, so a WebSocket without one is refused too (closed with code 1008, policy
  violation, before it is accepted).
- every other HTTP route (``/api/...``): a request that has an ``Origin`` header must match in
  the same way, and one without it (``curl``; a browser's plain same-site ``GET``) is served
  only for ``GET`` and ``HEAD``. A refusal is a 403 whose text names the origin and the way to
  allow it.

A page of another site can also reach the server under a name of its own that resolves to this
machine (DNS rebinding): its origin then matches its ``Host`` header. Against that the
middleware takes the names the server answers to (``hosts``; ``jaxnn playground`` on 127.0.0.1
gives ``127.0.0.1``, ``localhost`` and ``[::1]`` with its port) and refuses every request, the
page included, whose ``Host`` is none of them nor the host of an allowed origin.

This module needs nothing but the standard library, so the command can check its options before
it imports the web server.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["ORIGINS_ENV", "OriginCheck", "local_hosts", "parse_origin", "parse_origins"]

ORIGINS_ENV = "JAXNN_PLAYGROUND_ORIGINS"
POLICY_VIOLATION = 1008  # the WebSocket close code for a refused origin (RFC 6455, 7.4.1)

logger = logging.getLogger(__name__)

_ORIGIN = re.compile(
    r"(?P<scheme>https?)://"
    r"(?P<host>[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?|\[(?P<ipv6>[0-9a-f:.]+)\])"
    r"(?::(?P<port>[0-9]{1,5}))?",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PAGE, _FILES = "/", "/static/"  # open to every page: the page itself, its files below _FILES
_SAFE_METHODS = ("GET", "HEAD")
_MAX_REASON_BYTES = 123  # the most a WebSocket close frame carries (RFC 6455, 5.5)
# Refusals logged as warnings, each distinct one once: a page retrying in a loop must not flood
# the terminal. The rest go to the debug level.
_MAX_WARNED = 100


def parse_origin(text: str) -> str:
    """An origin, ``scheme://host[:port]``, in the form a browser sends it.

    The scheme and the host are lower-cased, an IPv6 address is compressed (RFC 5952, as a
    browser writes it) and a default port (80 for http, 443 for https) is dropped, so two
    spellings of one origin compare equal.

    Args:
        text: The origin, e.g. ``"https://class.example.org"`` or ``"http://127.0.0.1:8000"``:
            an http or https scheme, an ASCII host name or address (an IPv6 one in brackets),
            an optional port and nothing after it (no path, not even ``/``).

    Returns:
        The origin in canonical form.

    Raises:
        ValueError: For text that is not such an origin; a URL with a path gets the origin it
            should have been.

    Example:
        >>> parse_origin("HTTPS://Class.Example.org:443")
        'https://class.example.org'
        >>> parse_origin("http://[0:0:0:0:0:0:0:1]:8000")
        'http://[::1]:8000'
        >>> parse_origin("https://class.example.org/playground")
        Traceback (most recent call last):
        ...
        ValueError: 'https://class.example.org/playground' is not an origin: ... Drop the path:
        'https://class.example.org'.
    """
    canonical = _canonical(text)
    if canonical is None:
        prefix = _ORIGIN.match(text)
        fix = ""
        if prefix and text[prefix.end() :].startswith(("/", "?", "#")):
            shorter = _canonical(prefix[0])
            fix = f" Drop the path: {shorter!r}." if shorter else ""
        raise ValueError(
            f"{text!r} is not an origin: expected scheme://host[:port] with http or https and "
            f"no path, e.g. https://class.example.org:8443.{fix}"
        )
    return canonical


def _canonical(text: str) -> str | None:
    """``text`` in the form :func:`parse_origin` returns; None if it is not an origin."""
    match = _ORIGIN.fullmatch(text)
    if match is None:
        return None
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 0 < port <= 65535:
        return None
    scheme, host = match["scheme"].lower(), match["host"].lower()
    if match["ipv6"] is not None:
        try:
            host = f"[{ipaddress.IPv6Address(match['ipv6']).compressed}]"
        except ValueError:  # e.g. [:::] or [1.2.3]: brackets, but no IPv6 address
            return None
    shown_port = "" if port in (None, _DEFAULT_PORTS[scheme]) else f":{port}"
    return f"{scheme}://{host}{shown_port}"


def parse_origins(origins: Iterable[str], *, name: str) -> frozenset[str]:
    """Each of a list of origins checked and made canonical with :func:`parse_origin`.

    Args:
        origins: The origins, e.g. ``["https://class.example.org"]``.
        name: What the list is called in a message (e.g. ``"create_app: allowed_origins"``).

    Returns:
        The canonical origins.

    Raises:
        TypeError: For a single string instead of a list of them, or an item that is not a
            string.
        ValueError: For an item that is not an origin (:func:`parse_origin`'s message, after
            the name and the index).

    Example:
        >>> sorted(parse_origins(["https://b.example:443", "http://a.example"], name="origins"))
        ['http://a.example', 'https://b.example']
    """
    if isinstance(origins, str):
        raise TypeError(
            f"{name} must be a list of origins, e.g. [{origins!r}]; got the string {origins!r}."
        )
    parsed = set()
    for i, origin in enumerate(origins):
        if not isinstance(origin, str):
            raise TypeError(f"{name}[{i}] must be a string; got {type(origin).__name__}.")
        try:
            parsed.add(parse_origin(origin))
        except ValueError as error:
            raise ValueError(f"{name}[{i}]: {error}") from None
    return frozenset(parsed)


def local_hosts(port: int) -> frozenset[str]:
    """The names a server on the loopback address and ``port`` answers to, as ``host:port``.

    Example:
        >>> sorted(local_hosts(8000))
        ['127.0.0.1:8000', '[::1]:8000', 'localhost:8000']
    """
    return frozenset(f"{host}:{port}" for host in ("127.0.0.1", "localhost", "[::1]"))


def _host_key(host: str) -> str | None:
    """A ``Host`` header (or ``host[:port]``) in one canonical form; None if it is not one."""
    try:
        return parse_origin(f"http://{host}")
    except ValueError:
        return None


class OriginCheck:
    """ASGI middleware: refuses the WebSocket and the routes of pages from another origin.

    What it refuses is in this module's description: a WebSocket is closed with code 1008
    (policy violation) before it is accepted, an HTTP request gets a 403 with the reason as
    text, and a refusal is logged as a warning with the way to allow the origin (each distinct
    one once, so that a page retrying in a loop does not flood the terminal).

    Args:
        app: The ASGI app it guards.
        allowed_origins: Origins besides the server's own, checked and made canonical with
            :func:`parse_origins`; default none.
        hosts: The names the server answers to, ``host[:port]`` (e.g. :func:`local_hosts`);
            a request with another ``Host`` header is refused, unless it is the host of an
            allowed origin. Default ``None``: any name (a server bound to a public address
            whose names are not known).

    Example:
        >>> from starlette.applications import Starlette
        >>> from starlette.middleware import Middleware
        >>> from starlette.responses import PlainTextResponse
        >>> from starlette.routing import Route
        >>> from starlette.testclient import TestClient
        >>> async def hello(request):
        ...     return PlainTextResponse("hello")
        >>> app = Starlette(routes=[Route("/api/hello", hello)], middleware=[Middleware(
        ...     OriginCheck, allowed_origins=parse_origins(["https://a.example"], name="a"))])
        >>> client = TestClient(app)  # its requests' Host is "testserver"
        >>> [client.get("/api/hello", headers={"origin": origin}).status_code
        ...  for origin in ("http://testserver", "https://a.example", "http://evil.example")]
        [200, 200, 403]
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_origins: Iterable[str] = (),
        hosts: Iterable[str] | None = None,
    ) -> None:
        """Guards ``app``; see the class description for the arguments."""
        self.app = app
        self.allowed_origins = parse_origins(allowed_origins, name="allowed_origins")
        self._warned: set[str] = set()
        self.hosts: frozenset[str] | None = None
        if hosts is not None:
            names = [*hosts, *(origin.split("://", 1)[1] for origin in self.allowed_origins)]
            self.hosts = frozenset(k for k in map(_host_key, names) if k is not None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Passes the request on to the app, or refuses it."""
        refusal = self._refusal(scope) if scope["type"] in ("http", "websocket") else None
        if refusal is None:
            await self.app(scope, receive, send)
            return
        message, reason = refusal
        kind = "WebSocket" if scope["type"] == "websocket" else scope["method"]
        level = logging.DEBUG
        if message not in self._warned and len(self._warned) < _MAX_WARNED:
            self._warned.add(message)
            level = logging.WARNING
        logger.log(level, "the Playground refused a %s to %s: %s", kind, scope["path"], message)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": POLICY_VIOLATION, "reason": reason})
            return
        body = message.encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"x-content-type-options", b"nosniff"),  # the text repeats the page's Origin
        ]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _refusal(self, scope: Scope) -> tuple[str, str] | None:
        """Why the request is refused, in full and as a WebSocket close reason; None if not."""
        websocket = scope["type"] == "websocket"
        path = scope["path"]
        headers = dict(reversed(scope["headers"]))  # reversed: the first of repeated headers
        host = headers.get(b"host", b"").decode("latin-1")
        if self.hosts is not None and _host_key(host) not in self.hosts:
            shown_host = repr(host if len(host) <= 60 else host[:57] + "...")
            names = ", ".join(sorted(k.split("://", 1)[1] for k in self.hosts))
            message = (
                f"Host {shown_host} is refused: this Playground answers to {names} (another "
                f"name that leads here may be a page of another site, DNS rebinding); to serve "
                f"it under that name, start it with --allow-origin http://NAME[:PORT]."
            )
            reason = f"Host {shown_host} is refused"
            return message, reason.encode()[:_MAX_REASON_BYTES].decode(errors="ignore")
        if not websocket and (path == _PAGE or path.startswith(_FILES)):
            return None
        own = _own_origins(host)
        origin_header = headers.get(b"origin")
        if origin_header is None:
            if not websocket and scope["method"] in _SAFE_METHODS:
                return None
            what = "a WebSocket" if websocket else f"a {scope['method']}"
            message = (
                f"{what} without an Origin header is refused: a page of this Playground "
                f"sends it; others must send its origin ({_shown(own)})."
            )
            return message, f"{what} without an Origin header is refused"
        origin = origin_header.decode("latin-1")
        try:
            canonical = parse_origin(origin)
        except ValueError:
            canonical = None
        if canonical is not None and (canonical in own or canonical in self.allowed_origins):
            return None
        shown = repr(origin if len(origin) <= 60 else origin[:57] + "...")
        fix = (
            f"; to allow it, start the Playground with --allow-origin {canonical} "
            f"(create_app: allowed_origins)"
            if canonical
            else ""
        )
        message = (
            f"origin {shown} is refused: only pages from this Playground's own origin "
            f"({_shown(own)}) and the allowed ones may use it{fix}."
        )
        reason = f"origin {shown} is refused (see jaxnn playground --allow-origin)"
        return message, reason.encode()[:_MAX_REASON_BYTES].decode(errors="ignore")


def _own_origins(host: str) -> frozenset[str]:
    """The origins of a page served from ``host`` (the Host header): http and https."""
    own = set()
    for scheme in ("http", "https"):
        try:
            own.add(parse_origin(f"{scheme}://{host}"))
        except ValueError:
            pass  # no Host header, or a malformed one: no origin is the server's own
    return frozenset(own)


def _shown(own: frozenset[str]) -> str:
    http = [origin for origin in own if origin.startswith("http:")]
    return http[0] if http else "unknown: the request has no valid Host header"
