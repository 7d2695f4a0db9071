"""Updates per second of the Playground: a real Uvicorn server and WebSocket clients.

Each client plays as the page does: it sends the settings, presses play and acknowledges every
frame (the server sends the next frame only after an acknowledgement). The network is 2-8-8-1 on
the spiral set with batch 10, one update being one epoch. The first frame after play (which
includes compilation) is not counted. Runs one tab, then two tabs at once (the second with ReLU,
so it compiles its own step), at the server's default cap of 60 updates/s and uncapped, and
prints the markdown table shown on docs/benchmarks.md.

Usage: python experiments/bench_playground.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from typing import Any

import uvicorn
import websockets

from jaxnn.cli.playground import bind, websocket_protocol
from jaxnn.playground.app import create_app

SETTINGS = {"hidden": "8,8", "dataset": "spiral", "batch_size": "10"}


def serve(rate: float) -> tuple[uvicorn.Server, int]:
    """A server with an update cap of ``rate`` per second on a free port, in a thread."""
    sock = bind("127.0.0.1", 0)
    app = create_app(max_updates_per_second=rate)
    config = uvicorn.Config(app, log_config=None, ws=websocket_protocol())
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, sock.getsockname()[1]


async def tab(port: int, seconds: float, values: dict[str, Any]) -> float:
    """Updates per second one page gets for ``seconds`` after its first frame."""
    address, origin = f"ws://127.0.0.1:{port}/ws", f"http://127.0.0.1:{port}"  # as the page
    async with websockets.connect(address, origin=origin, max_size=None) as ws:
        await ws.recv()  # hello
        await ws.send(json.dumps({"type": "settings", "values": values}))
        for _ in range(4):  # settings, points, frame, state
            await ws.recv()
        await ws.send(json.dumps({"type": "play"}))
        frames, start = 0, None
        while True:
            message = json.loads(await ws.recv())
            if message["type"] != "frame":
                continue
            await ws.send('{"type": "ack"}')
            if start is None:
                start = time.perf_counter()
                continue
            frames += 1
            if time.perf_counter() - start > seconds:
                return frames / (time.perf_counter() - start)


async def main(seconds: float) -> None:
    """Prints the table."""
    print("| server cap | tabs | updates/s per tab |")
    print("| --- | --- | --- |")
    for rate, label in ((60.0, "60/s (default)"), (1e6, "none")):
        server, port = serve(rate)
        one = await tab(port, seconds, SETTINGS)
        two = await asyncio.gather(
            tab(port, seconds, SETTINGS), tab(port, seconds, {**SETTINGS, "activation": "relu"})
        )
        print(f"| {label} | 1 | {one:.1f} |")
        print(f"| {label} | 2 | {two[0]:.1f}, {two[1]:.1f} |")
        server.should_exit = True


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="timed seconds per tab")
    asyncio.run(main(parser.parse_args().seconds))
