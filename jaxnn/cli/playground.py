"""``jaxnn playground``: serves the Playground page (:mod:`jaxnn.playground`) with Uvicorn."""

from __future__ import annotations

import socket
from typing import Any

import click

from jaxnn.cli.common import UserError, debug_option, note
from jaxnn.playground.origins import ORIGINS_ENV, local_hosts, parse_origin

__all__ = ["bind", "playground", "websocket_protocol"]

LOCAL = "127.0.0.1"
_LOOPBACK = (LOCAL, "localhost", "::1")


def _origins(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple:
    del ctx
    try:
        return tuple(parse_origin(value) for value in values)
    except ValueError as error:
        raise click.BadParameter(str(error), param=param) from None


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a :class:`UserError` that says why not.

    Binding here, before the server starts, turns a port in use into one clear message.

    Example:
        >>> sock = bind("127.0.0.1", 0)  # port 0: any free port
        >>> sock.getsockname()[1] > 0
        True
        >>> sock.close()
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        why = "is in use" if error.errno == 98 else f"cannot be used ({error.strerror})"
        raise UserError(
            f"port {port} on {host} {why}; choose another with --port (e.g. --port {port + 1})."
        ) from error
    sock.listen(128)
    return sock


def websocket_protocol() -> str:
    """Uvicorn's WebSocket implementation: ``websockets-sansio`` where it has it."""
    from uvicorn.config import WS_PROTOCOLS

    return "websockets-sansio" if "websockets-sansio" in WS_PROTOCOLS else "websockets"


@click.command("playground")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="The port to serve on (0: any free port).")  # fmt: skip
@click.option("--host", default=LOCAL, show_default=True,
              help="The address to bind; any but 127.0.0.1 lets other machines in.")  # fmt: skip
@click.option("--allow-origin", "allowed_origins", multiple=True, metavar="URL",
              callback=_origins,
              help="Also let pages from this origin (scheme://host[:port]) use the Playground, "
              "e.g. the address of a proxy in front of it for a classroom; repeatable. Without "
              f"it only the page the server itself serves may (also: {ORIGINS_ENV}).")  # fmt: skip
@debug_option
def playground(port: int, host: str, allowed_origins: tuple[str, ...]) -> None:
    """Serve the Playground: a web page where a network trains live on jaxnn.

    Example: jaxnn playground --port 8000

    Open the address it prints in a browser; Ctrl+C stops the server. Needs the playground
    extra: pip install "jaxnn[playground]".
    """
    try:
        import uvicorn

        from jaxnn.playground.app import create_app
    except ImportError as error:
        raise UserError(
            f'the Playground needs the playground extra: pip install "jaxnn[playground]" ({error}).'
        ) from error
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    try:
        app: Any = create_app(
            allowed_origins=allowed_origins,
            hosts=local_hosts(bound) if host in _LOOPBACK else None,
        )
    except ValueError as error:
        sock.close()
        raise UserError(str(error)) from None
    if host != LOCAL:
        note(
            f"warning: serving on {host}, not {LOCAL}: anyone who can reach this machine on port "
            f"{sock.getsockname()[1]} can use the Playground and run training on it."
        )
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"The jaxnn Playground: http://{shown}:{sock.getsockname()[1]}/ (Ctrl+C stops it)")
    # log_config=None: Uvicorn's warnings and errors go through logging's last-resort handler
    # to whatever stderr is when they happen, not to a stream captured at start-up.
    config = uvicorn.Config(app, log_config=None, log_level="warning", ws=websocket_protocol())
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # Uvicorn stops cleanly on Ctrl+C, then raises it again
        pass
    finally:
        sock.close()
    note("The Playground stopped.")
