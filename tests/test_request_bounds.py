"""Every integer a request body takes has an upper bound in the schema: an unbounded one lets a client send a
number the database cannot hold, and the answer was a 500 instead of a 422 in words."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

# Bounded by the model's own validator, with a message in the model's words.
CHECKED_BY_VALIDATOR = {("BoardIn", "prizes")}


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            found |= {value.rsplit("/", 1)[-1]} if key == "$ref" else _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _integers(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found = [schema] if schema.get("type") == "integer" else []
    for alternative in schema.get("anyOf", []):
        found += _integers(alternative)
    if "items" in schema:
        found += _integers(schema["items"])
    return found


def test_every_integer_of_a_request_body_is_bounded(app: FastAPI) -> None:
    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    todo = [
        ref
        for operations in spec["paths"].values()
        for op in operations.values()
        for ref in _refs(op.get("requestBody", {}))
    ]
    seen: set[str] = set()
    unbounded = []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += _refs(schemas[name])
        for field, schema in schemas[name].get("properties", {}).items():
            if any("maximum" not in s for s in _integers(schema)) and (name, field) not in CHECKED_BY_VALIDATOR:
                unbounded.append(f"{name}.{field}")
    assert len(seen) > 50  # the walk reached the bodies
    assert unbounded == []
