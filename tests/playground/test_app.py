"""The Playground's server: HTTP routes, the WebSocket session protocol and bad input."""

from __future__ import annotations

import asyncio
import io
import json
import time
import zipfile

import numpy as np
import pytest
from starlette.testclient import TestClient

import jaxnn
from jaxnn.playground.app import STATIC, create_app
from jaxnn.playground.session import Session
from jaxnn.playground.settings import Settings

SMALL = {"points": "100", "hidden": "3", "dataset": "gaussian"}


@pytest.fixture(scope="module")
def client():
    app = create_app(max_updates_per_second=1000)
    with TestClient(app, headers={"origin": "http://testserver"}) as client:  # the page's own
        yield client


def _open(ws, values=SMALL):
    """Says hello, sends the settings; returns the session id and the setup messages."""
    hello = ws.receive_json()
    ws.send_text(json.dumps({"type": "settings", "values": values}))
    messages = {m["type"]: m for m in (ws.receive_json() for _ in range(4))}
    return hello["session"], messages


def _until(ws, kind):
    while True:
        message = ws.receive_json()
        if message["type"] == kind:
            return message


def test_the_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text == (STATIC / "index.html").read_text()
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
    assert "http" not in (STATIC / "index.html").read_text().replace("http://www.w3", "")


def test_settings_are_clamped_and_explained(client):
    reply = client.get("/api/settings", params={"hidden": "4,9", "activation": "gelu"}).json()
    assert reply["settings"]["hidden"] == "4,8" and reply["settings"]["activation"] == "tanh"
    assert reply["notes"][0] == "neurons per layer must be in [1, 8]; got 9, using 8."


@pytest.mark.parametrize(
    ("path", "params", "reason"),
    [
        ("/api/settings", {"noise": "x"}, "noise must be a number; got 'x'."),
        ("/api/settings", {"speed": "1"}, "unknown controls ['speed']"),
        ("/api/code", {"epochs": "-2"}, "epochs must be a whole number in [0, 1000000]; got '-2'."),
        ("/api/code", {"hidden": "a"}, "hidden must be a number; got 'a'."),
        (
            "/api/settings",
            {"tf_hash": "x" * 5000},
            "parse_tf_hash: a TensorFlow Playground link's fragment has at most 4096 characters",
        ),
        ("/api/settings", {"tf_hash": "x=true", "noise": "x"}, "noise must be a number"),
    ],
)
def test_a_malformed_request_is_a_400_with_the_reason(client, path, params, reason):
    response = client.get(path, params=params)
    assert response.status_code == 400 and response.text.startswith(reason)


def test_a_tf_playground_fragment_is_read_and_what_was_not_applied_is_named(client):
    fragment = (
        "#activation=relu&batchSize=40&dataset=xor&regDataset=reg-plane&learningRate=0.1"
        "&networkShape=3,3&seed=0.5&showTestData=true&discretize=false&x=true&y=true"
        "&xTimesY=true&cosX=true&tutorial=dp&problem=classification&initZero=false"
    )
    reply = client.get("/api/settings", params={"tf_hash": fragment}).json()
    settings = reply["settings"]
    assert (settings["activation"], settings["hidden"], settings["dataset"]) == (
        "relu",
        "3,3",
        "xor",
    )
    assert (settings["features"], settings["learning_rate"], settings["seed"]) == (
        "x1,x2,x1x2",
        "0.1",
        "5",
    )
    assert settings["batch_size"] == "30"  # 40 is past the slider: clamped, with a note
    assert reply["notes"] == ["batch_size must be in [1, 30]; got 40, using 30."]
    assert reply["view"] == {"show_test": True, "discretize": False}
    assert [(u["key"], u["value"]) for u in reply["unmapped"]] == [
        ("cosX", "true"),
        ("tutorial", "dp"),
    ]
    assert "no cos(X1) input" in reply["unmapped"][0]["reason"]


def test_controls_beside_a_fragment_win_over_it_and_plain_replies_have_no_tf_fields(client):
    params = {"tf_hash": "networkShape=3&noise=10&activation=gelu", "hidden": "5"}
    reply = client.get("/api/settings", params=params).json()
    assert reply["settings"]["hidden"] == "5" and reply["settings"]["noise"] == "10"
    assert reply["settings"]["activation"] == "tanh"
    assert reply["unmapped"][0]["reason"].startswith("unknown activation 'gelu'")
    plain = client.get("/api/settings", params={"hidden": "5"}).json()
    assert set(plain) == {"settings", "notes"}


def test_the_code_route_serves_the_program(client):
    code = client.get("/api/code", params={"hidden": "5", "epochs": "7"}).text
    assert 'model = jaxnn.serial(Dense(5, activation="tanh"), Dense(1))' in code
    assert "for epoch in range(7):" in code


def test_an_unknown_session_has_no_model(client):
    response = client.get("/api/sessions/nope/model.jaxnn")
    assert response.status_code == 404 and "no such session" in response.text


def test_a_session_trains_steps_resets_and_saves(client, tmp_path):
    with client.websocket_connect("/ws") as ws:
        session_id, setup = _open(ws)
        assert setup["settings"]["settings"]["hidden"] == "3" and setup["settings"]["notes"] == []
        assert len(setup["points"]["train"]) == 50 and len(setup["points"]["train"][0]) == 3
        first = setup["frame"]
        assert first["epoch"] == 0 and setup["state"]["playing"] is False
        # The first frame is the untrained network of the same settings and seed.
        reference = Session(Settings(points=100, hidden=(3,), dataset="gaussian")).frame()
        assert first["train_loss"] == pytest.approx(reference["train_loss"], rel=1e-6)

        ws.send_text(json.dumps({"type": "step"}))
        assert _until(ws, "frame")["epoch"] == 1
        assert _until(ws, "state")["playing"] is False

        ws.send_text(json.dumps({"type": "play"}))
        epochs = []
        while len(epochs) < 15:
            frame = _until(ws, "frame")
            epochs.append(frame["epoch"])
            ws.send_text(json.dumps({"type": "ack"}))
        assert epochs == list(range(2, 17))
        assert frame["train_loss"] < first["train_loss"]
        ws.send_text(json.dumps({"type": "pause"}))
        assert _until(ws, "state")["playing"] is False

        model = client.get(f"/api/sessions/{session_id}/model.jaxnn")
        assert model.status_code == 200
        assert "playground.jaxnn" in model.headers["content-disposition"]
        assert "config.json" in zipfile.ZipFile(io.BytesIO(model.content)).namelist()
        (tmp_path / "m.jaxnn").write_bytes(model.content)
        loaded = jaxnn.load_model(tmp_path / "m.jaxnn")
        x = np.array([[2.0, 2.0], [-2.0, -2.0]], np.float32)
        logits = np.asarray(jaxnn.predict(loaded.model, loaded.train_state, x))
        assert logits[0, 0] > 0 > logits[1, 0]  # class 1 around (2, 2), class 0 around (-2, -2)

        ws.send_text(json.dumps({"type": "reset"}))
        frame = _until(ws, "frame")
        assert frame["epoch"] == 0 and frame["train_loss"] == pytest.approx(first["train_loss"])
    # The page closed: its session is gone (the server notices the close on its own loop).
    for _ in range(200):
        if client.get(f"/api/sessions/{session_id}/model.jaxnn").status_code == 404:
            break
        time.sleep(0.01)
    assert client.get(f"/api/sessions/{session_id}/model.jaxnn").status_code == 404


def test_two_tabs_train_independently(client):
    with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b:
        id_a, setup_a = _open(a)
        id_b, setup_b = _open(b, {**SMALL, "hidden": "2,2", "activation": "relu"})
        assert id_a != id_b
        a.send_text(json.dumps({"type": "step"}))
        a.send_text(json.dumps({"type": "step"}))
        assert _until(a, "frame")["epoch"] == 1 and _until(a, "frame")["epoch"] == 2
        b.send_text(json.dumps({"type": "step"}))
        frame_b = _until(b, "frame")
        assert frame_b["epoch"] == 1 and [len(w["b"]) for w in frame_b["weights"]] == [2, 2, 1]


def test_changes_from_the_page_are_clamped_with_a_note(client):
    with client.websocket_connect("/ws") as ws:
        _open(ws)
        ws.send_text(json.dumps({"type": "settings", "values": {"hidden": "9,2"}}))
        reply = _until(ws, "settings")
        assert reply["settings"]["hidden"] == "8,2"
        assert reply["notes"] == ["neurons per layer must be in [1, 8]; got 9, using 8."]
        assert [len(w["b"]) for w in _until(ws, "frame")["weights"]] == [8, 2, 1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "a message must be JSON."),
        ('{"type": "dance"}', "unknown message type 'dance'; known: settings, play, pause,"),
        ('["play"]', "unknown message type None;"),
        ('{"type": "settings", "values": {"noise": "loud"}}', "noise must be a number; got"),
        ('{"type": "settings", "values": [1]}', "values must be an object; got list."),
    ],
)
def test_a_malformed_message_gets_an_error_and_the_session_lives_on(client, text, message):
    with client.websocket_connect("/ws") as ws:
        _open(ws)
        ws.send_text(text)
        assert _until(ws, "error")["message"].startswith(message)
        ws.send_text(json.dumps({"type": "step"}))
        assert _until(ws, "frame")["epoch"] == 1


def test_commands_before_the_settings_are_refused(client):
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        ws.send_text(json.dumps({"type": "play"}))
        assert ws.receive_json() == {"type": "error", "message": "send the settings first."}


def test_a_slow_or_closed_tab_does_not_hold_up_another(client):
    with client.websocket_connect("/ws") as b:
        _open(b)
        with client.websocket_connect("/ws") as a:
            _open(a)
            a.send_text(json.dumps({"type": "play"}))
            _until(a, "frame")  # playing, and this page never acknowledges a frame
            b.send_text(json.dumps({"type": "step"}))
            assert _until(b, "frame")["epoch"] == 1
        b.send_text(json.dumps({"type": "step"}))  # a has closed mid-play
        assert _until(b, "frame")["epoch"] == 2


def test_a_page_gone_mid_send_stops_its_play_loop_quietly():
    from starlette.websockets import WebSocketDisconnect

    from jaxnn.playground.app import _Connection

    class Gone:
        sent = 0

        async def send_text(self, text):
            Gone.sent += 1
            raise WebSocketDisconnect(code=1006)

    async def play():
        connection = _Connection(Gone(), max_rate=1000)
        connection.session = Session(Settings(points=60, hidden=(2,)))
        await asyncio.wait_for(connection.play(), 60)  # returns instead of raising
        return connection.session.epoch

    assert asyncio.run(play()) == 1 and Gone.sent == 1
