"""Several HTTP processes behind one address, each new connection handed to the one with the fewest open.

With uvicorn's own supervisor every worker accepts from the shared listening socket, and whichever wakes first
takes every connection waiting. Keep-alive clients that connect in a burst (a mini-program's, a load balancer's)
then land unevenly, 30 of 32 or all of them on one worker: its requests queue on one core while the other process
idles. Here the parent process accepts, and passes each connection (its file descriptor, over a Unix socket pair)
to the ready worker with the fewest open connections; a worker tells the parent when one of its connections
closes. A connection stays with its worker, so the parent sees only its first packet.

The parent also keeps the workers: one that dies is replaced; SIGINT or SIGTERM stops them all, each finishing
the requests it holds (uvicorn's graceful shutdown). A worker whose application fails to start stops everything,
as with uvicorn.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

import structlog
import uvicorn
from uvicorn.config import STARTUP_FAILURE

log = structlog.get_logger()

READY, CLOSED = b"r", b"c"  # what a worker tells the parent: started serving; one of its connections closed
STOP_GRACE_S = 30.0  # how long stopping workers may take before they are killed
RESPAWN_PAUSE_S = 1.0  # between replacing a worker and replacing it again


@dataclass
class _Worker:
    process: BaseProcess
    channel: socket.socket  # the parent's end
    open: int = 0  # connections handed to it and not yet reported closed
    ready: bool = False


class Balancer:
    """The parent: `run()` serves `app` ("module:attribute") on host:port with `workers` processes until stopped."""

    def __init__(self, app: str, *, host: str, port: int, workers: int, options: dict[str, Any]) -> None:
        self.app = app
        self.host, self.port = host, port
        self.options = options  # uvicorn.Config keywords for each worker
        self.workers: list[_Worker | None] = [None] * workers
        self._spawned = [0.0] * workers  # when each slot last started a worker
        self._stop = False
        self._failed = False
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._listening = False
        self._turn = 0

    def run(self, listener: socket.socket | None = None) -> int:
        """Serve until SIGINT / SIGTERM; the exit status (non-zero when the application could not start)."""
        self._listener = listener or bind(self.host, self.port)
        self._listener.setblocking(False)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for slot in range(len(self.workers)):
                self._spawn(slot)
            while not self._stop:
                for key, _events in self._selector.select(timeout=0.5):
                    if key.fileobj is self._listener:
                        self._accept()
                    else:
                        self._hear(key.data)
                self._tend()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._shut_down()
        return STARTUP_FAILURE if self._failed else 0

    def _on_signal(self, _signum: int, _frame: Any) -> None:
        self._stop = True

    def _spawn(self, slot: int) -> None:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        context = multiprocessing.get_context("spawn")
        process = context.Process(
            target=_work, args=(self.app, self.options, child_end), name=f"siyu-http-{slot}", daemon=False
        )
        process.start()
        child_end.close()
        parent_end.setblocking(False)
        self.workers[slot] = _Worker(process, parent_end)
        self._spawned[slot] = time.monotonic()
        self._selector.register(parent_end, selectors.EVENT_READ, slot)

    def _hear(self, slot: int) -> None:
        """What a worker says: ready, or a connection closed; nothing (its end closed) when it has gone."""
        worker = self.workers[slot]
        if worker is None:
            return
        try:
            said = worker.channel.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            said = b""
        if not said:
            self._forget(slot)
            return
        if READY in said and not worker.ready:
            worker.ready = True
        worker.open = max(0, worker.open - said.count(CLOSED))
        self._listen(True)

    def _accept(self) -> None:
        """Every connection waiting, each to the ready worker with the fewest open."""
        assert self._listener is not None
        while True:
            ready = [w for w in self.workers if w is not None and w.ready]
            if not ready:
                self._listen(False)  # left in the backlog until a worker is ready
                return
            try:
                connection, _address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                log.warning("accept_failed", exc_info=True)
                return
            with connection:
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._turn = (self._turn + 1) % len(ready)  # ties taken in turn: short connections spread too
                for worker in sorted(ready[self._turn :] + ready[: self._turn], key=lambda w: w.open):
                    try:
                        socket.send_fds(worker.channel, [b"c"], [connection.fileno()])
                    except OSError:  # its channel is full or gone: the next one
                        continue
                    worker.open += 1
                    break
                # handed over (the worker holds its own descriptor now), or no worker took it: closed either way

    def _listen(self, on: bool) -> None:
        assert self._listener is not None
        if on and not self._listening and not self._stop:
            self._selector.register(self._listener, selectors.EVENT_READ, None)
            self._listening = True
        elif not on and self._listening:
            self._selector.unregister(self._listener)
            self._listening = False

    def _forget(self, slot: int) -> None:
        worker = self.workers[slot]
        if worker is None:
            return
        self._selector.unregister(worker.channel)
        worker.channel.close()
        worker.process.join(timeout=1)
        if worker.process.exitcode is None:
            worker.process.kill()
            worker.process.join()
        self.workers[slot] = None
        if worker.process.exitcode == STARTUP_FAILURE and not worker.ready:
            log.error("http_worker_failed_to_start", pid=worker.process.pid)
            self._failed = self._stop = True
        elif not self._stop:
            log.warning("http_worker_died", pid=worker.process.pid, exitcode=worker.process.exitcode)

    def _tend(self) -> None:
        """Replace workers that are gone (not while stopping; a slot at most once every RESPAWN_PAUSE_S)."""
        now = time.monotonic()
        for slot, worker in enumerate(self.workers):
            if worker is not None and not worker.process.is_alive():
                self._forget(slot)
                worker = None
            if worker is None and not self._stop and now - self._spawned[slot] >= RESPAWN_PAUSE_S:
                self._spawn(slot)

    def _shut_down(self) -> None:
        self._listen(False)
        if self._listener is not None:
            self._listener.close()
        running = [w for w in self.workers if w is not None]
        for worker in running:
            if worker.process.is_alive() and worker.process.pid is not None:
                os.kill(worker.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for worker in running:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.exitcode is None:
                worker.process.kill()
                worker.process.join()
            with suppress(KeyError, ValueError, OSError):
                self._selector.unregister(worker.channel)
            worker.channel.close()
        self._selector.close()


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(2048)
    return listener


# The worker


def _work(app: str, options: dict[str, Any], channel: socket.socket) -> None:
    """In a worker process: uvicorn serving the connections the parent hands over."""
    config = uvicorn.Config(app, **options)
    server = _HandedServer(config, channel)
    with suppress(KeyboardInterrupt):  # Ctrl+C reaches the whole process group: the parent decides
        server.run()
    sys.exit(0)


class _HandedServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self.channel = channel
        self._handing: set[asyncio.Task[Any]] = set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the lifespan; no socket of its own
        loop = asyncio.get_running_loop()
        protocol = _counting(self.config.http_protocol_class, self._closed)

        def create_protocol() -> asyncio.Protocol:
            made: asyncio.Protocol = protocol(
                config=self.config, server_state=self.server_state, app_state=self.lifespan.state, _loop=loop
            )
            return made

        self._create_protocol = create_protocol
        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), self._receive)
        self._tell(READY)

    def _receive(self) -> None:
        """The connections the parent has handed over (each message carries one)."""
        loop = asyncio.get_running_loop()
        for _message in range(64):
            try:
                said, descriptors, _flags, _address = socket.recv_fds(self.channel, 256, 16)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                said, descriptors = b"", []
            for descriptor in descriptors:
                connection = socket.socket(fileno=descriptor)
                connection.setblocking(False)
                task = loop.create_task(loop.connect_accepted_socket(self._create_protocol, connection))
                self._handing.add(task)
                task.add_done_callback(self._handed)
            if not said:  # the parent has gone: finish what is held and stop
                loop.remove_reader(self.channel.fileno())
                self.should_exit = True
                return

    def _handed(self, task: asyncio.Task[Any]) -> None:
        self._handing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._closed()  # never became a connection: the parent counted it

    def _closed(self) -> None:
        self._tell(CLOSED)

    def _tell(self, what: bytes) -> None:
        with suppress(OSError):  # the parent has gone or is not reading: nothing to tell
            self.channel.send(what)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        with suppress(KeyError, ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self.channel.fileno())
        await super().shutdown(sockets=[])


def _counting(base: type, closed: Callable[[], None]) -> type:
    """uvicorn's HTTP protocol, telling the parent when its connection is gone."""

    class Counted(base):
        def connection_lost(self, exc: Exception | None) -> None:
            try:
                super().connection_lost(exc)
            finally:
                closed()

    return Counted
