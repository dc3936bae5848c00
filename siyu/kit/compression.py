"""Gzip for the responses worth it, as plain ASGI middleware.

A response is compressed when the client accepts gzip, its body is at least `minimum_size` bytes (or streamed),
it is not compressed already (Content-Encoding set, or a picture, archive, audio or video type) and it is not a
range. Every response that could have been compressed says `Vary: Accept-Encoding`, compressed or not. Chunks
of `thread_minimum_size` and more are compressed in a thread, off the event loop.

Everything a request does not need is skipped: a small answer (a fan's check-in) costs a look at two headers.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Bodies already compressed, where gzip only costs time; and event streams, which must not wait for a buffer.
SKIPPED_TYPES = frozenset(
    {
        "application/gzip",
        "application/x-gzip",
        "application/zip",
        "application/grpc",
        "font/woff",
        "font/woff2",
        "image/avif",
        "image/gif",
        "image/jpeg",
        "image/png",
        "image/webp",
        "text/event-stream",
    }
)
SKIPPED_FAMILIES = ("audio/", "video/")


def _accepts_gzip(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    return any(name == b"accept-encoding" and b"gzip" in value for name, value in headers)


def _compressible(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        key = name.lower()
        if key == b"content-encoding":
            return False
        if key == b"content-type":
            media = value.decode("latin-1").partition(";")[0].strip().lower()
            if media in SKIPPED_TYPES or media.startswith(SKIPPED_FAMILIES):
                return False
    return True


def _vary_on_encoding(headers: list[tuple[bytes, bytes]]) -> None:
    for i, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            if b"accept-encoding" not in value.lower():
                headers[i] = (name, value + b", Accept-Encoding")
            return
    headers.append((b"vary", b"Accept-Encoding"))


def _set_length(headers: list[tuple[bytes, bytes]], length: int | None) -> None:
    """Content-Length set to `length`, or removed (None: a streamed body)."""
    headers[:] = [(name, value) for name, value in headers if name.lower() != b"content-length"]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))


class Compression:
    def __init__(
        self, app: ASGIApp, *, minimum_size: int = 800, level: int = 6, thread_minimum_size: int = 128 * 1024
    ) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.level = level
        self.thread_minimum_size = thread_minimum_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        gzip = _accepts_gzip(scope["headers"])
        held: Message | None = None  # the response's start, until its first body decides how it goes out
        passing = False
        compressor: zlib._Compress | None = None

        async def send_compressed(message: Message) -> None:
            nonlocal held, passing, compressor
            kind = message["type"]
            if passing:
                await send(message)
            elif kind == "http.response.start":
                headers = message["headers"] = list(message.get("headers", ()))
                if message["status"] == 206 or not _compressible(headers):
                    passing = True
                    await send(message)
                else:
                    held = message
            elif kind == "http.response.body" and compressor is not None:
                message["body"] = await self._compress(compressor, message.get("body", b""), message)
                await send(message)
            elif kind == "http.response.body" and held is not None:
                start, held = held, None
                body, more = message.get("body", b""), message.get("more_body", False)
                if len(body) < self.minimum_size and not more:  # too small to be worth it
                    passing = True
                else:
                    _vary_on_encoding(start["headers"])
                    if gzip:
                        compressor = zlib.compressobj(self.level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
                        message["body"] = await self._compress(compressor, body, message)
                        start["headers"].append((b"content-encoding", b"gzip"))
                        _set_length(start["headers"], len(message["body"]) if not more else None)
                    else:
                        passing = True
                await send(start)
                await send(message)
            else:  # early hints, trailers, a file sent by path: as they are, after the start held back
                if held is not None and kind != "http.response.early_hint":
                    start, held = held, None
                    passing = True
                    await send(start)
                await send(message)

        await self.app(scope, receive, send_compressed)

    async def _compress(self, compressor: zlib._Compress, body: bytes, message: Message) -> bytes:
        final = not message.get("more_body", False)
        if len(body) >= self.thread_minimum_size:
            return await asyncio.to_thread(_deflate, compressor, body, final)
        return _deflate(compressor, body, final)


def _deflate(compressor: zlib._Compress, body: bytes, final: bool) -> bytes:
    return compressor.compress(body) + compressor.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)
