"""``jaxnn playground``: the address, the warning off 127.0.0.1, a port in use, a real server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest
import uvicorn
from click.testing import CliRunner

from jaxnn.cli import cli
from jaxnn.cli.playground import bind


@pytest.fixture
def served(monkeypatch):
    """Records what the command would serve instead of serving it."""
    calls = []
    monkeypatch.setattr(
        uvicorn.Server, "run", lambda self, sockets: calls.append(sockets[0].getsockname())
    )
    return calls


def test_it_prints_the_address_and_binds_to_127_0_0_1_by_default(served):
    result = CliRunner().invoke(cli, ["playground", "--port", "0"])
    assert result.exit_code == 0, result.output
    [(host, port)] = served
    assert host == "127.0.0.1"
    assert result.stdout == f"The jaxnn Playground: http://127.0.0.1:{port}/ (Ctrl+C stops it)\n"
    assert result.stderr == "The Playground stopped.\n"


def test_another_host_gets_a_warning(served):
    result = CliRunner().invoke(cli, ["playground", "--port", "0", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    port = served[0][1]
    assert result.stderr.startswith(
        f"warning: serving on 0.0.0.0, not 127.0.0.1: anyone who can reach this machine on port "
        f"{port} can use the Playground"
    )


def test_a_port_in_use_is_a_clear_error_with_exit_code_1(served):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["playground", "--port", str(port)])
    assert result.exit_code == 1 and served == []
    assert result.stderr == (
        f"Error: port {port} on 127.0.0.1 is in use; choose another with --port "
        f"(e.g. --port {port + 1}).\n"
    )


def test_an_address_that_is_not_here_is_a_clear_error():
    with pytest.raises(Exception, match=r"port 0 on 203\.0\.113\.7 cannot be used \(") as info:
        bind("203.0.113.7", 0)
    assert type(info.value).__name__ == "UserError"


def test_the_command_serves_the_page_until_interrupted():
    env = {**os.environ, "JAXNN_COMPILATION_CACHE": "off"}
    process = subprocess.Popen(
        [sys.executable, "-m", "jaxnn", "playground", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        assert line.startswith("The jaxnn Playground: http://127.0.0.1:")
        address = line.split()[3]
        with urllib.request.urlopen(address, timeout=30) as response:
            assert b"<title>jaxnn Playground</title>" in response.read()
        with urllib.request.urlopen(address + "api/settings?batch_size=99", timeout=30) as response:
            assert b'"batch_size":"30"' in response.read()
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert err.endswith("The Playground stopped.\n")
