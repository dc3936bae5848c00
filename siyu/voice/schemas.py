"""Requests and answers of fan voice: a demand entry, a wish and its "+1"s, encore votes, surveys and their
answers, ops' replies and the rankings."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from siyu.kit.errors import InvalidInput
from siyu.kit.types import NOT_BLANK
from siyu.voice.models import QuestionKind

CATEGORIES = ("美妆护肤", "服饰鞋包", "食品生鲜", "母婴", "家居日用", "数码家电", "珠宝配饰", "其他")
PRICE_RANGES = ("100 元以内", "100–300 元", "300–500 元", "500–1000 元", "1000 元以上")
MAX_POINTS = 10_000


class DemandIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: str = Field(description="品类：" + " / ".join(CATEGORIES))
    brand: str = Field(default="", max_length=40, description="品牌（可不填）")
    product: str = Field(min_length=1, max_length=60, pattern=NOT_BLANK, description="想买的商品")
    price_range: str = Field(default="", description="心理价位：" + " / ".join(PRICE_RANGES) + "（可不填）")
    text: str = Field(default="", max_length=500, description="想对主播说的话（可不填）")

    @model_validator(mode="after")
    def _known(self) -> DemandIn:
        if self.category not in CATEGORIES:
            raise ValueError("请从列表中选择品类")
        if self.price_range and self.price_range not in PRICE_RANGES:
            raise ValueError("请从列表中选择心理价位")
        return self


class DemandOut(BaseModel):
    id: int
    week: str
    category: str
    brand: str
    product: str
    price_range: str
    text: str
    has_photo: bool
    reply: str
    replied_at: datetime | None
    created_at: datetime


class WishIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    product: str = Field(min_length=1, max_length=60, pattern=NOT_BLANK, description="想要的商品")
    note: str = Field(default="", max_length=200, description="补充说明（可不填）")


class WishOut(BaseModel):
    id: int
    product: str
    note: str
    plus_count: int = Field(description="“+1” 的人数")
    mine: bool = Field(description="是不是我许的愿")
    plused: bool = Field(description="我是否已经 +1")
    reply: str
    created_at: datetime


class PlusOut(BaseModel):
    wish_id: int
    plus_count: int
    message: str


class EncoreProductOut(BaseModel):
    product_id: int
    show_id: int
    show_title: str
    title: str
    price_fen: int
    votes: int
    voted: bool


class EncoreOut(BaseModel):
    product_id: int
    votes: int
    message: str


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=100, pattern=NOT_BLANK, description="题目")
    kind: QuestionKind = Field(
        default=QuestionKind.single, description="single 单选 / multiple 多选 / rating 评分 / text 填空"
    )
    options: list[str] = Field(default_factory=list, max_length=10, description="选择题的选项（2 到 10 个）")

    @model_validator(mode="after")
    def _options(self) -> Question:
        self.options = list(dict.fromkeys(o.strip()[:40] for o in self.options if o.strip()))
        if self.kind in (QuestionKind.single, QuestionKind.multiple) and len(self.options) < 2:
            raise ValueError("选择题至少需要两个选项")
        if self.kind in (QuestionKind.rating, QuestionKind.text):
            self.options = []
        return self


class SurveyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=40, pattern=NOT_BLANK)
    intro: str = Field(default="", max_length=300)
    questions: list[Question] = Field(min_length=1, max_length=20)
    points: int = Field(default=0, ge=0, le=MAX_POINTS, description="回答后得多少积分（0：不送积分）")


class SurveyOut(BaseModel):
    id: int
    title: str
    intro: str
    questions: list[dict[str, Any]]
    points: int
    open: bool
    answers: int = 0
    answered: bool = False
    created_at: datetime


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: dict[str, str | int | list[str]] = Field(
        max_length=20, description='按题号作答：{"1": "选项", "2": ["多选1", "多选2"], "3": 5, "4": "文字"}'
    )


class AnswerOut(BaseModel):
    survey_id: int
    points: int
    message: str


class StaffAnswerOut(BaseModel):
    member_id: int
    nickname: str
    answers: dict[str, Any]
    points: int
    created_at: datetime


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reply: str = Field(
        min_length=1, max_length=200, pattern=NOT_BLANK, description="给粉丝看的回复，如“已安排在 12月8日 直播”"
    )


class ReplyOut(BaseModel):
    kind: str = Field(description="wish 愿望 / demand 需求")
    kind_label: str
    subject: str
    reply: str
    replied_at: datetime


class RankedWish(BaseModel):
    id: int
    product: str
    plus_count: int
    nickname: str
    reply: str
    similar: list[int] = Field(description="写法不同但像是同一商品的其他愿望")
    created_at: datetime


class StaffDemandOut(DemandOut):
    member_id: int
    nickname: str


class CountOut(BaseModel):
    label: str
    count: int


LABELS = {
    "category": "品类",
    "brand": "品牌",
    "product": "商品",
    "price_range": "心理价位",
    "text": "想说的话",
    "note": "补充说明",
    "reply": "回复",
    "title": "问卷标题",
    "intro": "问卷说明",
    "questions": "题目",
    "points": "积分",
}


class BadInput(InvalidInput):
    code = "invalid_voice_input"


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], values: dict[str, Any]) -> M:
    """`values` read into `model`, or a refusal in words naming the field ("商品不能超过 60 字")."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        loc = [str(p) for p in first["loc"]]
        label = LABELS.get(loc[0], "") if loc else ""
        kind = first["type"]
        if kind == "value_error":
            message = str(first.get("msg", "")).removeprefix("Value error, ")
        elif kind == "string_too_long":
            message = f"{label}不能超过 {(first.get('ctx') or {}).get('max_length')} 字"
        elif kind in ("string_too_short", "string_pattern_mismatch", "missing"):
            message = f"请填写{label}"
        else:
            message = f"{label}填写不正确"
        raise BadInput(message) from None
