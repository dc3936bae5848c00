"""Several HTTP processes behind one address, each new connection handed to the one with the fewest open.

With uvicorn's own supervisor every worker accepts from the shared listening socket, and whichever wakes first
takes every connection waiting. Keep-alive clients that connect in a burst (a mini-program's, a load balancer's)
then land unevenly, 30 of 32 or all of them on one worker: its requests queue on one core while the other process
idles. Here the parent process accepts, and passes each connection (its file descriptor, over a Unix socket pair)
to the ready worker with the fewest open connections; a worker tells the parent when one of its connections
closes (buffered, never dropped, while the parent is not reading) and when it starts stopping (it gets no more).
A connection stays with its worker, so the parent sees only its first packet.

The parent also keeps the workers: one that dies is replaced; SIGINT or SIGTERM stops them all, each finishing
the requests it holds (uvicorn's graceful shutdown, at most GRACE_S). A worker whose application fails to start
(uvicorn's status 3, or dying three times in a row before it is ready) stops everything instead of being restarted
in a loop.
"""

from __future__ import annotations

import asyncio
import errno
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
from types import FrameType
from typing import Any

import structlog
import uvicorn
from uvicorn.config import STARTUP_FAILURE

log = structlog.get_logger()

# What a worker tells the parent: started serving; one of its connections closed; stopping (hand it no more).
READY, CLOSED, STOPPING = b"r", b"c", b"s"
GRACE_S = 25  # a stopping worker's requests may take this long (uvicorn's timeout_graceful_shutdown)
KILL_AFTER_S = GRACE_S + 10  # then its lifespan shutdown; a worker still running after this is killed
RESPAWN_PAUSE_S = 1.0  # between replacing a worker and replacing it again
EARLY_DEATHS = 3  # a slot whose workers die this many times in a row before being ready: the app cannot start
ACCEPTS_PER_WAKE = 64  # then the workers' messages are read again
ACCEPT_PAUSE_S = 1.0  # out of descriptors or memory: stop accepting for this long (as asyncio does)


@dataclass
class _Worker:
    process: BaseProcess
    channel: socket.socket  # the parent's end
    open: int = 0  # connections handed to it and not yet reported closed
    started: bool = False  # its application started
    ready: bool = False  # serving, and not stopping


class Balancer:
    """The parent: `run()` serves `app` ("module:attribute") on host:port with `workers` processes until stopped."""

    def __init__(self, app: str, *, host: str, port: int, workers: int, options: dict[str, Any]) -> None:
        self.app = app
        self.host, self.port = host, port
        self.options = {"timeout_graceful_shutdown": GRACE_S, **options}  # uvicorn.Config keywords for each worker
        self.workers: list[_Worker | None] = [None] * workers
        self._spawned = [0.0] * workers  # when each slot last started a worker
        self._early_deaths = [0] * workers  # workers of the slot that died before being ready, in a row
        self._stop = False
        self._failed = False
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._listening = False
        self._paused_until = 0.0
        self._turn = 0

    def run(self, listener: socket.socket | None = None) -> int:
        """Serve until SIGINT / SIGTERM; the exit status (non-zero when the application could not start)."""
        self._listener = listener or bind(self.host, self.port)
        self._listener.setblocking(False)
        wake, woken = socket.socketpair()  # a signal wakes the loop at once (no more connections accepted)
        wake.setblocking(False)
        woken.setblocking(False)
        self._selector.register(woken, selectors.EVENT_READ, "wake")
        previous_wakeup = signal.set_wakeup_fd(wake.fileno(), warn_on_full_buffer=False)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for slot in range(len(self.workers)):
                self._spawn(slot)
            while not self._stop:
                for key, _events in self._selector.select(timeout=0.5):
                    if key.data == "wake":
                        with suppress(OSError):
                            woken.recv(4096)
                    elif key.data == "listener":
                        self._accept()
                    elif not self._stop:
                        self._hear(key.data)
                self._tend()
        finally:
            try:
                self._shut_down()  # still answering signals: a second one does not cut the drain short
            finally:
                self._restore(previous, previous_wakeup, wake, woken)
        return STARTUP_FAILURE if self._failed else 0

    def _restore(
        self, previous: dict[signal.Signals, Any], previous_wakeup: int, wake: socket.socket, woken: socket.socket
    ) -> None:
        signal.set_wakeup_fd(previous_wakeup)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        self._selector.close()
        wake.close()
        woken.close()

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
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
        """What a worker says: ready, connections closed, stopping; nothing (its end closed) when it has gone."""
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
        if STOPPING in said:
            worker.ready = False
        elif READY in said and not worker.started:
            worker.started = worker.ready = True
            self._early_deaths[slot] = 0
        worker.open = max(0, worker.open - said.count(CLOSED))
        self._listen(True)

    def _accept(self) -> None:
        """The connections waiting (up to ACCEPTS_PER_WAKE), each to the ready worker with the fewest open."""
        assert self._listener is not None
        for _connection in range(ACCEPTS_PER_WAKE):
            ready = [w for w in self.workers if w is not None and w.ready]
            if not ready:
                self._listen(False)  # left in the backlog until a worker is ready
                return
            try:
                connection, _address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("accept_paused", error=error.strerror)
                    self._paused_until = time.monotonic() + ACCEPT_PAUSE_S
                    self._listen(False)
                return  # a connection reset before it was accepted, say: the next wake takes the rest
            with connection:
                self._hand(connection, ready)

    def _hand(self, connection: socket.socket, ready: list[_Worker]) -> None:
        self._turn = (self._turn + 1) % len(ready)  # ties taken in turn: short connections spread too
        for worker in sorted(ready[self._turn :] + ready[: self._turn], key=lambda w: w.open):
            try:
                socket.send_fds(worker.channel, [CLOSED], [connection.fileno()])
            except OSError:  # its channel is full or gone: the next one
                continue
            worker.open += 1
            return  # the worker holds its own descriptor now; the parent's is closed
        log.warning("connection_not_handed", workers=len(ready))

    def _listen(self, on: bool) -> None:
        assert self._listener is not None
        if on and not self._listening and not self._stop and time.monotonic() >= self._paused_until:
            self._selector.register(self._listener, selectors.EVENT_READ, "listener")
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
        worker.process.join(timeout=5)  # its channel closed: it is exiting
        if worker.process.exitcode is None:
            worker.process.kill()
            worker.process.join()
        self.workers[slot] = None
        if self._stop:
            return
        if not worker.started and worker.process.exitcode != 0:
            self._early_deaths[slot] += 1
        if worker.process.exitcode == STARTUP_FAILURE or self._early_deaths[slot] >= EARLY_DEATHS:
            log.error("http_worker_failed_to_start", pid=worker.process.pid, exitcode=worker.process.exitcode)
            self._failed = self._stop = True
        else:
            log.warning("http_worker_died", pid=worker.process.pid, exitcode=worker.process.exitcode)

    def _tend(self) -> None:
        """Replace workers that are gone (not while stopping; a slot at most once every RESPAWN_PAUSE_S); listen
        again after a pause."""
        now = time.monotonic()
        for slot, worker in enumerate(self.workers):
            if worker is not None and not worker.process.is_alive():
                self._forget(slot)
                worker = None
            if worker is None and not self._stop and now - self._spawned[slot] >= RESPAWN_PAUSE_S:
                self._spawn(slot)
        if any(w is not None and w.ready for w in self.workers):
            self._listen(True)

    def _shut_down(self) -> None:
        self._listen(False)
        if self._listener is not None:
            self._listener.close()
        running = [w for w in self.workers if w is not None]
        for worker in running:
            if worker.process.is_alive() and worker.process.pid is not None:
                os.kill(worker.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + KILL_AFTER_S
        for worker in running:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.exitcode is None:
                log.warning("http_worker_killed", pid=worker.process.pid)
                worker.process.kill()
                worker.process.join()
            with suppress(KeyError, ValueError, OSError):
                self._selector.unregister(worker.channel)
            worker.channel.close()


def bind(host: str, port: int) -> socket.socket:
    """The listening socket: IPv6 only for an IPv6 address, as uvicorn's single process binds it (an IPv4 client
    seen as ::ffff:a.b.c.d would not match the trusted proxies)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        listener.bind((host, port))
        listener.listen(2048)
    except BaseException:
        listener.close()
        raise
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
        self._outbox = bytearray()  # told, not yet taken by the channel (the parent is not reading)
        self._writing = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the lifespan; no socket of its own
        self._loop = loop = asyncio.get_running_loop()
        config = self.config
        protocol = _counting(config.http_protocol_class, self._closed)
        if config.ws_protocol_class is not None:  # an upgraded connection closes through its WebSocket protocol
            config.ws_protocol_class = _counting(config.ws_protocol_class, self._closed)

        def create_protocol() -> asyncio.Protocol:
            made: asyncio.Protocol = protocol(
                config=config, server_state=self.server_state, app_state=self.lifespan.state, _loop=loop
            )
            return made

        self._create_protocol = create_protocol
        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), self._receive)
        self._tell(READY)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None:  # a signal handler: tell the parent from the loop
            self._loop.call_soon_threadsafe(self._tell, STOPPING)

    def _receive(self) -> None:
        """The connections the parent has handed over (each message carries one)."""
        assert self._loop is not None
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
                task = self._loop.create_task(self._loop.connect_accepted_socket(self._create_protocol, connection))
                self._handing.add(task)
                task.add_done_callback(self._handed)
            for _lost in range(said.count(CLOSED) - len(descriptors)):  # out of descriptors: never got it
                log.warning("connection_not_received")
                self._closed()
            if not said:  # the parent has gone: finish what is held and stop
                self._loop.remove_reader(self.channel.fileno())
                self.should_exit = True
                return

    def _handed(self, task: asyncio.Task[Any]) -> None:
        self._handing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._closed()  # never became a connection: the parent counted it

    def _closed(self) -> None:
        self._tell(CLOSED)

    def _tell(self, what: bytes) -> None:
        self._outbox += what
        self._flush()

    def _flush(self) -> None:
        """Send what is told; what the channel cannot take now waits for it to drain (never dropped)."""
        while self._outbox:
            try:
                sent = self.channel.send(self._outbox)
            except BlockingIOError:
                if not self._writing and self._loop is not None:
                    self._loop.add_writer(self.channel.fileno(), self._flush)
                    self._writing = True
                return
            except OSError:  # the parent has gone: nobody to tell
                self._outbox.clear()
                break
            del self._outbox[:sent]
        if self._writing and self._loop is not None:
            self._loop.remove_writer(self.channel.fileno())
            self._writing = False

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._tell(STOPPING)
        self._receive()  # connections handed over before the parent heard: served like the rest
        with suppress(KeyError, ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self.channel.fileno())
        await super().shutdown(sockets=[])


def _counting(base: type, closed: Callable[[], None]) -> type:
    """uvicorn's protocol class, telling the parent when its connection is gone."""

    class Counted(base):
        def connection_lost(self, exc: Exception | None) -> None:
            try:
                super().connection_lost(exc)
            finally:
                closed()

    return Counted
