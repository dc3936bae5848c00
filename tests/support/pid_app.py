"""A tiny ASGI app for the serving tests (siyu.kit.serving): it answers with the id of the process that served the
request; /slow answers after a second. With SERVING_TEST_FAIL set, it refuses to start; with SERVING_TEST_BROKEN, it
cannot even be imported."""

from __future__ import annotations

import asyncio
import os
from typing import Any

if os.environ.get("SERVING_TEST_BROKEN"):
    raise RuntimeError("broken on purpose")


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if os.environ.get("SERVING_TEST_FAIL"):
                    await send({"type": "lifespan.startup.failed", "message": "refused on purpose"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/slow":
        await asyncio.sleep(1.0)
    body = str(os.getpid()).encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
