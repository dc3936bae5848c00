"""Console forms: a refused action leaves nothing half-done, and says why in words."""

from __future__ import annotations

from pydantic import BaseModel, Field, ValidationError, field_validator

from siyu.claims.models import Outcome
from siyu.console.forms import problem
from tests.console.conftest import Desk
from tests.support import factories


class _Prize(BaseModel):
    weight: int = Field(ge=1)


class _Form(BaseModel):
    title: str = Field(min_length=1)
    prizes: list[_Prize] = []

    @field_validator("title")
    @classmethod
    def _no_brackets(cls, value: str) -> str:
        if "<" in value:
            raise ValueError("名称不能含尖括号")
        return value


def _error(**values: object) -> ValidationError:
    try:
        _Form.model_validate(values)
    except ValidationError as error:
        return error
    raise AssertionError("valid")


def test_a_problem_is_told_in_chinese_with_the_fields_label() -> None:
    labels = {"title": "名称", "prizes": "奖项"}
    assert problem(_error(title="<b>"), labels) == "名称：名称不能含尖括号"  # our rule's own words
    assert problem(_error(title=""), labels) == "名称填写不正确"  # never Pydantic's English
    assert problem(_error(title="好", prizes=[{"weight": 1}, {"weight": 0}]), labels) == "第 2 个奖项填写不正确"
    assert problem(_error(title=""), None) == "请检查填写的内容"
    assert problem(_error(title="<"), None) == "名称不能含尖括号"


async def test_a_batch_review_refused_at_one_claim_approves_none(desk: Desk) -> None:
    fan = await factories.member(desk.session, desk.tenant_id, "小满")
    waiting = await desk.claim_row(fan.id, "9000000000000001", outcome=Outcome.review)
    done = await desk.claim_row(fan.id, "9000000000000002", outcome=Outcome.credited)
    assert waiting.id < done.id  # the waiting one is decided first, then the batch is refused at the other
    await desk.session.commit()

    response = await desk.post(
        "/console/claims/review", {"claim_id": [str(waiting.id), str(done.id)], "action": "approve"}
    )
    assert response.status_code == 409 and "这条领取记录已经处理过了" in response.text

    await desk.session.refresh(waiting)
    assert waiting.outcome == Outcome.review and waiting.reviewed_by is None
    queue = await desk.get("/console/claims/review")
    assert f'data-claim="{waiting.id}"' in queue.text
