"""Only the Playground's own pages (and allowed origins) may use its WebSocket and /api."""

from __future__ import annotations

import json
import logging
import re
import threading
import time

import pytest
import uvicorn
from click.testing import CliRunner

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from jaxnn.cli import cli  # noqa: E402
from jaxnn.playground.app import create_app  # noqa: E402
from jaxnn.playground.origins import (  # noqa: E402
    ORIGINS_ENV,
    POLICY_VIOLATION,
    OriginCheck,
    local_hosts,
    parse_origin,
    parse_origins,
)

OWN = "http://testserver"  # Starlette's TestClient sends Host: testserver
EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(allowed_origins=["https://class.example.org"])) as client:
        yield client


def _hello(client, headers):
    with client.websocket_connect("/ws", headers=headers) as ws:
        return ws.receive_json()


def _refused(client, headers):
    with (
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect("/ws", headers=headers),
    ):
        pass  # the server closes before it accepts: nothing is received, no session starts
    return info.value


def test_the_websocket_takes_the_own_and_the_allowed_origins_only(client):
    assert _hello(client, {"origin": OWN})["type"] == "hello"
    assert _hello(client, {"origin": "HTTP://TestServer:80"})["type"] == "hello"
    assert _hello(client, {"origin": "https://class.example.org:443"})["type"] == "hello"
    for origin in (EVIL, "http://testserver.evil.example", "null", "http://testserver:8080"):
        refused = _refused(client, {"origin": origin})
        assert refused.code == POLICY_VIOLATION
        assert refused.reason.startswith(f"origin {origin!r} is refused")
    refused = _refused(client, {})
    assert (refused.code, refused.reason) == (
        POLICY_VIOLATION,
        "a WebSocket without an Origin header is refused",
    )


def test_api_requests_from_another_origin_get_403_and_the_way_to_allow_them(client):
    page = client.get("/", headers={"origin": EVIL})  # the page and its files are open
    assert page.status_code == 200 and "<title>jaxnn Playground</title>" in page.text
    assert client.get("/static/playground.css").status_code in (200, 404)
    assert client.get("/api/settings").status_code == 200  # no Origin: curl, a same-site GET
    assert client.get("/api/code", headers={"origin": OWN}).status_code == 200
    refused = client.get("/api/code", headers={"origin": EVIL})
    assert refused.status_code == 403
    assert refused.text == (
        f"origin {EVIL!r} is refused: only pages from this Playground's own origin "
        f"({OWN}) and the allowed ones may use it; to allow it, start the Playground with "
        f"--allow-origin {EVIL} (create_app: allowed_origins)."
    )
    missing = client.get("/api/sessions/x/model.jaxnn", headers={"origin": EVIL})
    assert missing.status_code == 403  # refused before the route says the session is gone
    posted = client.post("/api/settings")
    assert posted.status_code == 403 and "a POST without an Origin header" in posted.text


def test_a_host_name_the_server_does_not_answer_to_is_refused():
    """DNS rebinding: a page of another site reaches 127.0.0.1 under its own name."""
    app = create_app(hosts=local_hosts(8000))
    rebound = TestClient(app, base_url="http://evil.example:8000")
    refused = rebound.get("/", headers={"origin": "http://evil.example:8000"})
    assert refused.status_code == 403
    assert refused.text.startswith(
        "Host 'evil.example:8000' is refused: this Playground answers to 127.0.0.1:8000, "
        "[::1]:8000, localhost:8000 (another name"
    )
    with (
        pytest.raises(WebSocketDisconnect) as info,
        rebound.websocket_connect("/ws", headers={"origin": "http://evil.example:8000"}),
    ):
        pass
    assert info.value.code == POLICY_VIOLATION
    local = TestClient(app, base_url="http://localhost:8000")
    assert local.get("/").status_code == 200
    headers = {"origin": "http://localhost:8000", "host": "localhost:8000"}
    with local.websocket_connect("/ws", headers=headers) as ws:
        assert ws.receive_json()["type"] == "hello"
    proxied = create_app(hosts=local_hosts(8000), allowed_origins=["https://class.example.org"])
    behind = TestClient(proxied, base_url="https://class.example.org")
    assert behind.get("/api/settings", headers={"origin": "https://class.example.org"}).is_success


def test_origins_from_the_environment_are_allowed_and_checked(monkeypatch):
    monkeypatch.setenv(ORIGINS_ENV, "https://a.example, http://b.example:8080")
    client = TestClient(create_app())
    for origin in ("https://a.example", "http://b.example:8080", OWN):
        assert client.get("/api/code", headers={"origin": origin}).status_code == 200
    assert client.get("/api/code", headers={"origin": "http://b.example"}).status_code == 403
    monkeypatch.setenv(ORIGINS_ENV, "https://a.example/playground")
    with pytest.raises(ValueError) as info:
        create_app()
    assert str(info.value) == (
        f"the environment variable {ORIGINS_ENV}[0]: 'https://a.example/playground' is not an "
        "origin: expected scheme://host[:port] with http or https and no path, e.g. "
        "https://class.example.org:8443. Drop the path: 'https://a.example'."
    )


def test_parse_origin_makes_one_spelling_and_refuses_what_is_not_an_origin():
    assert parse_origin("HTTP://Example.ORG:80") == "http://example.org"
    assert parse_origin("https://[::1]:8443") == "https://[::1]:8443"
    for bad in ("ftp://a.example", "a.example", "http://a.example:0", "http://a.example:70000"):
        with pytest.raises(ValueError, match=rf"^{bad!r} is not an origin: expected"):
            parse_origin(bad)
    with pytest.raises(TypeError, match=r"origins must be a list of origins, e.g. \['http://a'\]"):
        parse_origins("http://a", name="origins")
    with pytest.raises(ValueError, match=r"^create_app: allowed_origins\[1\]: 'x' is not"):
        create_app(allowed_origins=["http://a.example", "x"])


@pytest.fixture
def served(monkeypatch):
    """The app the command would serve, instead of serving it."""
    apps = []
    monkeypatch.setattr(
        uvicorn.Server,
        "run",
        lambda self, sockets: apps.append((self.config.app, sockets[0].getsockname()[1])),
    )
    return apps


def test_the_command_serves_its_own_origin_and_what_allow_origin_adds(served):
    args = ["playground", "--port", "0", "--allow-origin", "https://Class.Example.org:443"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    [(app, port)] = served
    own = TestClient(app, base_url=f"http://127.0.0.1:{port}")
    assert own.get("/api/code", headers={"origin": f"http://127.0.0.1:{port}"}).is_success
    assert own.get("/api/code", headers={"origin": "https://class.example.org"}).is_success
    assert own.get("/api/code", headers={"origin": EVIL}).status_code == 403
    rebound = TestClient(app, base_url=f"http://evil.example:{port}")
    assert rebound.get("/").status_code == 403  # on 127.0.0.1 it answers to local names only


def test_a_bad_allow_origin_is_a_usage_error_naming_it(served):
    result = CliRunner().invoke(cli, ["playground", "--allow-origin", "class.example.org"])
    assert result.exit_code == 2 and served == []
    assert "Invalid value for '--allow-origin': 'class.example.org' is not an origin" in (
        result.stderr
    )
    assert "expected scheme://host[:port]" in result.stderr


def test_ipv6_origins_compare_in_the_form_a_browser_writes():
    assert parse_origin("http://[0:0:0:0:0:0:0:1]:8000") == "http://[::1]:8000"
    assert parse_origin("https://[2001:DB8:0:0::1]") == "https://[2001:db8::1]"
    for bad in ("http://[:::]", "http://[1.2.3]", "http://[::1"):
        with pytest.raises(ValueError, match=rf"^{re.escape(repr(bad))} is not an origin"):
            parse_origin(bad)
    rebindable = TestClient(create_app(hosts=local_hosts(8000)), base_url="http://[0::1]:8000")
    assert rebindable.get("/api/settings").status_code == 200  # [0::1] is [::1]


def test_the_path_fix_is_a_valid_origin_in_canonical_form():
    with pytest.raises(ValueError, match=r"Drop the path: 'https://a\.example'\.$"):
        parse_origin("HTTPS://A.Example:443/x")
    with pytest.raises(ValueError) as info:
        parse_origin("http://a.example:99999/x")  # no valid origin to suggest
    assert "Drop the path" not in str(info.value)


def _guarded(allowed_origins):
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request):
        return PlainTextResponse("hello")

    check = Middleware(OriginCheck, allowed_origins=allowed_origins)
    return TestClient(Starlette(routes=[Route("/api/hello", hello)], middleware=[check]))


def test_the_middleware_makes_its_allowed_origins_canonical_and_checks_them():
    client = _guarded(["HTTPS://A.Example:443"])
    assert client.get("/api/hello", headers={"origin": "https://a.example"}).text == "hello"
    with pytest.raises(ValueError, match=r"^allowed_origins\[0\]: 'a\.example' is not an"):
        OriginCheck(_guarded([]).app, allowed_origins=["a.example"])


def test_a_refusal_is_plain_text_not_sniffed_and_warned_about_once(caplog):
    client = _guarded([])
    with caplog.at_level(logging.DEBUG, logger="jaxnn.playground.origins"):
        for _ in range(3):
            refused = client.get("/api/hello", headers={"origin": EVIL})
        client.get("/api/hello", headers={"origin": "https://other.example"})
    assert refused.status_code == 403
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert refused.headers["content-type"] == "text/plain; charset=utf-8"
    levels = [(record.levelno, EVIL in record.getMessage()) for record in caplog.records]
    assert levels == [
        (logging.WARNING, True),
        (logging.DEBUG, True),
        (logging.DEBUG, True),
        (logging.WARNING, False),
    ]


def test_a_real_server_refuses_the_handshake_of_another_origin():
    """Uvicorn turns the close before accept into an HTTP 403 answer to the handshake."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    from jaxnn.cli.playground import bind, websocket_protocol

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    app = create_app(hosts=local_hosts(port))
    config = uvicorn.Config(app, log_config=None, log_level="error", ws=websocket_protocol())
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            time.sleep(0.01)
        address = f"ws://127.0.0.1:{port}/ws"
        with pytest.raises(InvalidStatus) as info:
            connect(address, origin=EVIL, open_timeout=10)
        assert info.value.response.status_code == 403
        with connect(address, origin=f"http://127.0.0.1:{port}", open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
