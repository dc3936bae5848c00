"""Pure decisions of fan voice: which week a moment falls in, how two wishes written differently are found to be
the same product, and whether a survey's answers fit its questions. No database, no clock of its own."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from siyu.kit.time import to_local

SIMILAR = 0.5  # Dice coefficient of character bigrams at or above which two wishes are the same product
MAX_TEXT_ANSWER = 200
RATING_MIN, RATING_MAX = 1, 5


def week_of(now: datetime, timezone: str) -> str:
    """The tenant-local ISO week `now` falls in, as "2026-W49"."""
    year, week, _ = to_local(now, timezone).date().isocalendar()
    return f"{year}-W{week:02d}"


def normalise(text: str) -> str:
    """A product name as compared: full-width letters and digits made half-width (NFKC), lower case, without
    spaces, punctuation or symbols ("Ｓ K-II 神仙水！" and "sk2神仙水" come close; "ii" is read as "2")."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(c for c in folded if unicodedata.category(c)[0] in "LN")
    return kept.replace("ii", "2")


def grams(text: str) -> set[str]:
    """Character bigrams of a normalised name (a one-character name is its own gram)."""
    if len(text) < 2:
        return {text} if text else set()
    return {text[i : i + 2] for i in range(len(text) - 1)}


def similarity(a: str, b: str) -> float:
    """How alike two product names are, from 0 to 1 (Dice coefficient of their normalised character bigrams)."""
    na, nb = normalise(a), normalise(b)
    if na == nb:
        return 1.0 if na else 0.0
    ga, gb = grams(na), grams(nb)
    if not ga or not gb:
        return 0.0
    return 2 * len(ga & gb) / (len(ga) + len(gb))


def group(names: Sequence[str], threshold: float = SIMILAR) -> list[list[int]]:
    """Indexes of `names` grouped as the same product (single linkage: a chain of alike names is one group);
    groups keep the order of their first member, and members their order in `names`."""
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    normalised = [normalise(n) for n in names]
    gram_sets = [grams(n) for n in normalised]
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if root(i) == root(j):
                continue
            if normalised[i] == normalised[j] and normalised[i]:
                alike = 1.0
            elif gram_sets[i] and gram_sets[j]:
                alike = 2 * len(gram_sets[i] & gram_sets[j]) / (len(gram_sets[i]) + len(gram_sets[j]))
            else:
                alike = 0.0
            if alike >= threshold:
                parent[max(root(i), root(j))] = min(root(i), root(j))
    groups: dict[int, list[int]] = {}
    for i in range(len(names)):
        groups.setdefault(root(i), []).append(i)
    return [groups[k] for k in sorted(groups)]


@dataclass(frozen=True)
class BadAnswers(Exception):
    """Why a survey's answers do not fit (in the fan's words)."""

    message: str


def check_answers(questions: list[dict[str, Any]], answers: dict[str, Any]) -> dict[str, Any]:
    """The answers to keep, one per question keyed by its position ("1", "2", ...): a choice among the options,
    a list of them, a rating from 1 to 5, or a text up to 200 characters. Every question must be answered."""
    kept: dict[str, Any] = {}
    for n, question in enumerate(questions, start=1):
        key = str(n)
        value = answers.get(key)
        kind = question.get("kind")
        options = [str(o) for o in question.get("options") or []]
        if kind == "multiple":
            picked = value if isinstance(value, list) else ([value] if value not in (None, "") else [])
            chosen = [str(v).strip() for v in picked if str(v).strip()]
            if not chosen:
                raise BadAnswers(f"请回答第 {n} 题")
            if any(c not in options for c in chosen):
                raise BadAnswers(f"第 {n} 题请从选项中选择")
            kept[key] = [o for o in options if o in chosen]
            continue
        text = "" if value is None or isinstance(value, list | dict) else str(value).strip()
        if not text:
            raise BadAnswers(f"请回答第 {n} 题")
        if kind == "single":
            if text not in options:
                raise BadAnswers(f"第 {n} 题请从选项中选择")
            kept[key] = text
        elif kind == "rating":
            if not text.isdigit() or not RATING_MIN <= int(text) <= RATING_MAX:
                raise BadAnswers(f"第 {n} 题请打 {RATING_MIN} 到 {RATING_MAX} 分")
            kept[key] = int(text)
        else:
            if len(text) > MAX_TEXT_ANSWER:
                raise BadAnswers(f"第 {n} 题的回答不能超过 {MAX_TEXT_ANSWER} 字")
            kept[key] = text
    return kept


def answer_text(value: Any) -> str:
    """An answer as one line of text (a multiple choice joined by "、", a rating as "4 分")."""
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if isinstance(value, int):
        return f"{value} 分"
    return "" if value is None else str(value)
