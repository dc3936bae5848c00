"""Gzip for the responses worth it (siyu.kit.compression)."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from siyu.kit.compression import Compression

BIG = {"rows": [{"粉丝": f"会员{n}", "积分": n} for n in range(200)]}
PICTURE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20


async def big(_: Request) -> Response:
    return JSONResponse(BIG)


async def small(_: Request) -> Response:
    return JSONResponse({"created": True})


async def picture(_: Request) -> Response:
    return Response(PICTURE, media_type="image/png")


async def encoded(_: Request) -> Response:
    return Response(gzip.compress(b"x" * 5000), headers={"Content-Encoding": "gzip"}, media_type="text/plain")


async def ranged(_: Request) -> Response:
    return Response(b"y" * 5000, status_code=206, media_type="text/plain")


async def varied(_: Request) -> Response:
    return Response("z" * 5000, headers={"Vary": "Cookie"}, media_type="text/html")


HUGE = "".join(f"会员{n},{n * 13}\n" for n in range(30_000)).encode()  # over 128 KiB: compressed in a thread


async def huge(_: Request) -> Response:
    return Response(HUGE, media_type="text/csv")


async def streamed(_: Request) -> Response:
    async def lines() -> AsyncIterator[bytes]:
        for n in range(300):
            yield f"第{n}行,{n * 7}\n".encode()

    return StreamingResponse(lines(), media_type="text/csv")


app = Compression(
    Starlette(
        routes=[
            Route("/big", big),
            Route("/small", small),
            Route("/picture", picture),
            Route("/encoded", encoded),
            Route("/ranged", ranged),
            Route("/varied", varied),
            Route("/streamed", streamed),
            Route("/huge", huge),
        ]
    ),
    minimum_size=800,
)


async def fetch(path: str, accept: str | None = "gzip, deflate, br") -> tuple[httpx.Response, bytes]:
    """The response, and its body as sent (before any decoding)."""
    headers = {"Accept-Encoding": accept if accept is not None else ""}
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        client.stream("GET", path, headers=headers) as response,
    ):
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, raw


async def test_a_large_answer_is_compressed_for_a_client_that_accepts_gzip() -> None:
    response, raw = await fetch("/big")
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert int(response.headers["content-length"]) == len(raw) < len(JSONResponse(BIG).body) // 3
    assert gzip.decompress(raw) == JSONResponse(BIG).body


async def test_a_client_without_gzip_gets_it_plain_with_vary() -> None:
    response, raw = await fetch("/big", accept=None)
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"
    assert raw == JSONResponse(BIG).body
    assert int(response.headers["content-length"]) == len(raw)


@pytest.mark.parametrize("path", ["/small", "/picture", "/encoded", "/ranged"])
async def test_small_compressed_or_partial_answers_go_out_as_they_are(path: str) -> None:
    response, raw = await fetch(path)
    plain, _ = await fetch(path, accept=None)
    assert response.status_code == plain.status_code
    assert response.headers.get("content-encoding") == plain.headers.get("content-encoding")
    assert "vary" not in response.headers
    assert int(response.headers["content-length"]) == len(raw)
    if path == "/picture":
        assert raw == PICTURE


async def test_an_existing_vary_is_extended() -> None:
    response, raw = await fetch("/varied")
    assert response.headers["vary"] == "Cookie, Accept-Encoding"
    assert gzip.decompress(raw) == b"z" * 5000


async def test_a_streamed_answer_is_compressed_as_it_goes() -> None:
    response, raw = await fetch("/streamed")
    assert response.headers["content-encoding"] == "gzip"
    assert "content-length" not in response.headers
    expected = "".join(f"第{n}行,{n * 7}\n" for n in range(300)).encode()
    assert zlib.decompress(raw, 16 + zlib.MAX_WBITS) == expected
    plain, raw_plain = await fetch("/streamed", accept=None)
    assert "content-encoding" not in plain.headers and raw_plain == expected


async def test_a_large_body_is_compressed_off_the_event_loop_all_the_same() -> None:
    assert len(HUGE) > 128 * 1024
    response, raw = await fetch("/huge")
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) == len(raw) < len(HUGE)
    assert gzip.decompress(raw) == HUGE
