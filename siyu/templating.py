"""One Jinja2 environment for the console and the H5, with filters for fen, local time and labels."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from siyu.kit.money import format_yuan
from siyu.kit.time import format_last_day, format_local

TEMPLATES_DIR = Path(__file__).parent / "templates"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.filters["yuan"] = format_yuan
templates.env.filters["local"] = format_local
templates.env.filters["last_day"] = format_last_day  # an expiry instant as the last local day it is still valid
# `tojson` keeps Chinese readable (still HTML-safe: <, >, & and ' are escaped).
templates.env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
