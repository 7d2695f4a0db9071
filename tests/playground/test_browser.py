"""The Playground in a real browser: Debian's headless Chromium, driven by Playwright.

The test never downloads a browser: it uses the system Chromium (``apt-get install chromium``)
and is skipped, saying so, where there is none.
"""

from __future__ import annotations

import io
import os
import shutil
import threading
import time

import numpy as np
import pytest

uvicorn = pytest.importorskip("uvicorn", reason="the playground extra is not installed")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: the browser test is skipped"
)

from jaxnn.cli.playground import bind, websocket_protocol  # noqa: E402
from jaxnn.playground.app import create_app  # noqa: E402
from jaxnn.playground.origins import local_hosts  # noqa: E402


def _chromium() -> str:
    for path in (os.environ.get("JAXNN_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if path and os.path.exists(path):
            return path
    pytest.skip(
        "no Chromium found (/usr/bin/chromium, Debian's chromium package): the Playground's "
        "browser test is skipped"
    )


@pytest.fixture(scope="module")
def address():
    sock = bind("127.0.0.1", 0)
    app = create_app(hosts=local_hosts(sock.getsockname()[1]))  # as `jaxnn playground` serves
    config = uvicorn.Config(app, log_config=None, ws=websocket_protocol())
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.close()
    assert errors == []


def _epoch(page) -> int:
    return int(page.text_content("#epoch").replace(",", ""))


def _loss(page) -> float:
    return float(page.text_content("#train_loss"))


def _boundary(page) -> str:
    return page.evaluate("document.getElementById('boundary').toDataURL()")


def _wait_for_url(page, part: str) -> None:
    page.wait_for_function("part => decodeURIComponent(location.search).includes(part)", arg=part)


def test_a_student_builds_a_network_and_trains_it(page, address):
    page.goto(address + "?dataset=circle&hidden=2&activation=tanh")
    page.wait_for_function("document.getElementById('train_loss').textContent !== '-'")

    page.click('[data-dataset="xor"]')
    _wait_for_url(page, "dataset=xor")
    page.click("#add_layer")
    _wait_for_url(page, "hidden=2,2")
    page.click('button[aria-label="add neuron to layer 1"]')
    _wait_for_url(page, "hidden=3,2")
    page.select_option("#activation", "relu")
    _wait_for_url(page, "activation=relu")
    page.click('[data-feature="x1x2"]')
    _wait_for_url(page, "features=x1,x2,x1x2")
    page.wait_for_function("document.querySelectorAll('path.link').length === 3*3 + 3*2 + 2*1")
    assert page.locator('canvas[data-node^="h:"]').count() == 5
    assert _epoch(page) == 0

    loss_before, boundary_before = _loss(page), _boundary(page)
    page.click("#play")
    page.wait_for_function(
        "Number(document.getElementById('epoch').textContent.replace(/,/g, '')) >= 40"
    )
    page.click("#play")
    page.wait_for_selector('#play[aria-label="play"]')
    page.wait_for_timeout(300)  # the last frame in flight
    assert _loss(page) < 0.7 * loss_before
    assert _boundary(page) != boundary_before

    epoch = _epoch(page)
    page.wait_for_function(
        "n => document.getElementById('code').textContent.includes(`range(${n})`)", arg=epoch
    )
    assert 'Dense(3, activation="relu"), Dense(2, activation="relu"), Dense(1)' in (
        page.text_content("#code")
    )

    page.locator("path.link").first.hover(force=True)
    assert page.text_content("#tooltip").startswith("weight ")

    from PIL import Image

    shot = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB"))
    assert shot.shape == (900, 1280, 3)
    colours = np.unique(shot.reshape(-1, 3), axis=0)
    assert len(colours) > 100  # heat maps, points and text, not a blank page
    blue = (shot[..., 2] > 150) & (shot[..., 0] < 60)  # the heat maps' and links' blue
    orange = (shot[..., 0] > 200) & (shot[..., 2] < 90)
    assert blue.sum() > 1000 and orange.sum() > 1000


def test_a_hand_edited_url_is_clamped_and_autoplay_starts(page, address):
    page.goto(address + "?dataset=gaussian&hidden=9&autoplay=1")
    page.wait_for_function(
        "Number(document.getElementById('epoch').textContent.replace(/,/g, '')) >= 3"
    )
    assert page.is_visible("#notes")
    assert "neurons per layer must be in [1, 8]; got 9, using 8." in page.text_content("#notes")
    _wait_for_url(page, "hidden=8")
    assert "autoplay" not in page.url
    page.wait_for_selector('#play[aria-label="pause"]')
    page.click("#play")
    page.wait_for_selector('#play[aria-label="play"]')


def test_a_link_with_an_unknown_control_says_so_and_starts_from_the_defaults(page, address):
    page.goto(address + "?speed=9&autoplay=1")
    page.wait_for_function(
        "Number(document.getElementById('epoch').textContent.replace(/,/g, '')) >= 3"
    )
    notes = page.text_content("#notes")
    assert "unknown controls ['speed']" in notes and "Starting with the default settings." in notes
    assert page.is_visible("#notes")
    _wait_for_url(page, "hidden=4,2")
    page.click("#play")
    page.wait_for_selector('#play[aria-label="play"]')


# A link copied from playground.tensorflow.org with this server's address put in front.
TF_LINK = (
    "#activation=relu&batchSize=20&dataset=xor&regDataset=reg-plane&learningRate=0.1"
    "&regularizationRate=0&noise=10&networkShape=3&seed=0.12345&showTestData=true"
    "&discretize=false&percTrainData=70&x=true&y=true&xTimesY=true&xSquared=false"
    "&ySquared=false&cosX=true&sinX=false&cosY=false&sinY=false&collectStats=false"
    "&problem=classification&initZero=false&hideText=false&tutorial=dp"
)


def test_a_tensorflow_playground_link_is_applied_and_what_it_cannot_map_is_named(page, address):
    page.goto(address + TF_LINK)
    page.wait_for_function("document.getElementById('train_loss').textContent !== '-'")
    _wait_for_url(page, "activation=relu")
    controls = {k: page.input_value(f"#{k}") for k in ("activation", "learning_rate", "batch_size",
                                                        "noise", "train_percent", "problem")}  # fmt: skip
    assert controls == {
        "activation": "relu", "learning_rate": "0.1", "batch_size": "20", "noise": "10",
        "train_percent": "70", "problem": "classification",
    }  # fmt: skip
    assert page.locator('[data-dataset="xor"].selected').count() == 1
    assert page.locator('canvas[data-node^="h:"]').count() == 3  # networkShape=3
    on = page.locator(".feature.on").evaluate_all("rows => rows.map(r => r.dataset.feature)")
    assert on == ["x1", "x2", "x1x2"]
    assert page.is_checked("#show_test") and not page.is_checked("#discretize")
    assert page.is_visible("#tf_notice")
    notice = " ".join(page.text_content("#tf_notice").split())
    assert "Settings read from a TensorFlow Playground link." in notice
    assert "2 of its settings could not be applied here:" in notice
    assert "cosX=true not applied: there is no cos(X1) input here" in notice
    assert "tutorial=dp not applied: this Playground has no tutorials." in notice
    # The fragment, once read, lives on in this page's own query (a reload keeps the setup).
    page.wait_for_function("location.hash === ''")
    assert "seed=12345" in page.url and "hidden=3" in page.url

    # A fragment pasted onto the open page: the TF Playground's defaults for the keys left out.
    page.evaluate("location.hash = '#networkShape=2,2&activation=sigmoid'")
    _wait_for_url(page, "hidden=2,2")
    assert page.input_value("#activation") == "sigmoid"
    assert page.locator('[data-dataset="circle"].selected').count() == 1
    notice = " ".join(page.text_content("#tf_notice").split())
    assert "Every setting was applied." in notice and "cosX" not in notice
    page.click("#tf_notice_close")
    assert not page.is_visible("#tf_notice")
