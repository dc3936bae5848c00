"""Several HTTP processes behind one address (siyu.kit.serving): each new connection goes to the worker with the
fewest open, a keep-alive connection stays with its worker, a worker that dies is replaced, SIGTERM lets the
requests being answered finish, and an app that cannot start stops the server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = (
    "import sys; from siyu.kit import serving; "
    "sys.exit(serving.Balancer('tests.support.pid_app:app', host='127.0.0.1', port=int(sys.argv[1]), workers=2, "
    "options={'log_level': 'warning', 'access_log': False}).run())"
)


def _start(port: int, **env: str) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(port)], env=environment, cwd=ROOT, stderr=subprocess.PIPE
    )


def _ask(connection: socket.socket, path: str = "/") -> int:
    """One request on a keep-alive connection: the pid of the worker that answered."""
    connection.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    return _read_pid(connection)


def _read_pid(connection: socket.socket) -> int:
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = connection.recv(4096)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:])
    while len(body) < length:
        body += connection.recv(4096)
    return int(body)


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def _when_serving(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        try:
            with _connect(port) as connection:
                _ask(connection)
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server did not answer")


def _workers_ready(port: int, count: int, timeout: float = 60) -> set[int]:
    """Open connections until `count` different workers have answered (each started and ready)."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < count and time.monotonic() < deadline:
        held = [_connect(port) for _ in range(count)]  # open together: each to a different ready worker
        try:
            seen.update(_ask(c) for c in held)
        except OSError:  # handed to a worker as it was killed: lost with it, as a client would find
            pass
        finally:
            for connection in held:
                connection.close()
        time.sleep(0.1)
    assert len(seen) >= count, f"only {len(seen)} workers answered"
    return seen


@pytest.fixture
def server() -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    process = _start(port)
    try:
        _when_serving(port, process)
        _workers_ready(port, 2)
        yield port, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_connections_opened_together_are_spread_evenly_and_stay_with_their_worker(
    server: tuple[int, subprocess.Popen[bytes]],
) -> None:
    port, _process = server
    time.sleep(0.3)  # the readiness probes' connections are reported closed
    connections = [_connect(port) for _ in range(8)]
    try:
        first = [_ask(c) for c in connections]
        assert sorted(Counter(first).values()) == [4, 4]
        assert [_ask(c) for c in connections] == first  # keep-alive: the same worker again
        # The four on one worker close: the next four go there, where none is open now.
        _busy, idle = sorted(Counter(first))
        for connection, pid in zip(connections, first, strict=True):
            if pid == idle:
                connection.close()
        time.sleep(0.3)
        fresh = [_connect(port) for _ in range(4)]
        connections += fresh
        assert [_ask(c) for c in fresh] == [idle] * 4
    finally:
        for connection in connections:
            connection.close()


def test_a_worker_that_dies_is_replaced(server: tuple[int, subprocess.Popen[bytes]]) -> None:
    port, process = server
    before = _workers_ready(port, 2)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    after = _workers_ready(port, 2)  # the survivor answers meanwhile, then the replacement too
    assert victim not in after
    assert len(after - before) >= 1
    assert process.poll() is None


def test_sigterm_lets_the_request_being_answered_finish(server: tuple[int, subprocess.Popen[bytes]]) -> None:
    port, process = server
    workers = _workers_ready(port, 2)
    with _connect(port) as connection:
        connection.sendall(b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        answer = connection.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200")
    assert process.wait(timeout=40) == 0
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.parametrize("broken", ["SERVING_TEST_FAIL", "SERVING_TEST_BROKEN"])
def test_an_app_that_cannot_start_stops_the_server(broken: str) -> None:
    """Its start-up refused (uvicorn's status 3), or its module failing to import: not restarted in a loop."""
    process = _start(free_port(), **{broken: "1"})
    try:
        assert process.wait(timeout=60) == 3  # uvicorn's "failed to start"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_stopping_worker_gets_no_new_connections(server: tuple[int, subprocess.Popen[bytes]]) -> None:
    """A worker told to stop on its own (SIGTERM to its pid, as a service manager may) finishes its request while
    every new connection goes to the other; the parent then replaces it."""
    port, process = server
    with _connect(port) as held:
        stopping = _ask(held)
        held.sendall(b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
        time.sleep(0.2)
        os.kill(stopping, signal.SIGTERM)
        time.sleep(0.3)
        fresh = [_connect(port) for _ in range(4)]
        try:
            answered = [_ask(c) for c in fresh]
        finally:
            for connection in fresh:
                connection.close()
        assert stopping not in answered
        assert held.recv(4096).startswith(b"HTTP/1.1 200")
    assert stopping not in _workers_ready(port, 2)
    assert process.poll() is None


def test_closes_told_while_the_parent_is_not_reading_are_not_lost(
    server: tuple[int, subprocess.Popen[bytes]],
) -> None:
    """One worker's connections close, more than a socket pair holds, while the parent is stopped; the other's
    close after. Once the parent has heard it all, neither worker counts an open connection: new ones split evenly
    (a close it never heard of would send every new connection to the other worker)."""
    port, process = server
    time.sleep(0.3)
    connections = [_connect(port) for _ in range(700)]
    try:
        for connection in connections:
            connection.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        pids = [_read_pid(c) for c in connections]
        assert sorted(Counter(pids).values()) == [350, 350]
        process.send_signal(signal.SIGSTOP)
        try:
            for connection, pid in zip(connections, pids, strict=True):
                if pid == pids[0]:
                    connection.close()
            time.sleep(1.0)
        finally:
            process.send_signal(signal.SIGCONT)
        for connection in connections:
            connection.close()
        time.sleep(1.0)
        fresh = [_connect(port) for _ in range(8)]
        try:
            assert sorted(Counter(_ask(c) for c in fresh).values()) == [4, 4]
        finally:
            for connection in fresh:
                connection.close()
    finally:
        for connection in connections:
            connection.close()
