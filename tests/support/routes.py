"""The application's route table, flattened: (full path, APIRoute) for every endpoint."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.routing import APIRoute


def route_table(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    for route in app.routes:
        # Included routers are kept as branches; their contexts carry the full (prefixed) path.
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is None:
            if isinstance(route, APIRoute):
                yield route.path, route
            continue
        for context in contexts():
            if isinstance(context.original_route, APIRoute):
                yield context.path, context.original_route
