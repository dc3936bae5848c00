"""Applications (refused in words, storing nothing), the seeded draw (exactly the quota, once; losers refunded
once; winners shipped through the mall and told), reports (winners only, photos checked) and the overdue sweep
(a reminder first, then the penalty once)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from siyu.jobs.models import Job
from siyu.kit import images
from siyu.kit.time import utcnow
from siyu.ledger import refs
from siyu.ledger.models import Entry
from siyu.loyalty import service as loyalty
from siyu.loyalty.schemas import TierIn
from siyu.mall import fulfil
from siyu.mall import service as mall
from siyu.mall.models import Redemption, Status
from siyu.mall.schemas import ShipIn
from siyu.trials import rules, service
from siyu.trials.models import Application, AppStatus, Penalty, Report
from siyu.trials.schemas import DrawIn
from tests.engagement.missions.conftest import png
from tests.trials.conftest import Trials


async def _count(trials: Trials, model: Any) -> int:
    return int(
        await trials.session.scalar(select(func.count()).select_from(model).where(model.tenant_id == trials.tenant_id))
        or 0
    )


async def _entries(trials: Trials, prefix: str) -> list[Entry]:
    rows = await trials.session.scalars(
        select(Entry).where(Entry.tenant_id == trials.tenant_id, Entry.source_ref.startswith(prefix))
    )
    return list(rows)


async def _refused(trials: Trials, error: type[Exception], words: str, trial: Any, fan: int, **values: Any) -> None:
    before = (await _count(trials, Application), len(await _entries(trials, "trial:")), await trials.available(fan))
    with pytest.raises(error) as refused:
        await trials.apply(trial, fan, **values)
    assert words in refused.value.message  # type: ignore[attr-defined]
    after = (await _count(trials, Application), len(await _entries(trials, "trial:")), await trials.available(fan))
    assert after == before


async def test_refusals_are_in_words_and_store_nothing(trials: Trials) -> None:
    tier = await loyalty.create_tier(trials.session, actor=trials.owner, data=TierIn(name="金卡会员", threshold=1000))
    fan = await trials.fan(points=50)
    later = await trials.trial(apply_from=utcnow() + timedelta(days=1), apply_until=utcnow() + timedelta(days=2))
    await _refused(trials, service.NotOpen, "开始", later, fan)
    closed = await trials.close(await trials.trial())
    await _refused(trials, service.NotOpen, "截止", closed, fan)
    gold = await trials.trial(min_tier_id=tier.id)
    await _refused(trials, service.NotEligible, "金卡及以上会员", gold, fan)
    rich = await trials.trial(min_points=500)
    await _refused(trials, service.NotEligible, "积分余额至少 500", rich, fan)
    buyers = await trials.trial(min_orders=2)
    await _refused(trials, service.NotEligible, "订单至少 2 笔", buyers, fan)
    dear = await trials.trial(points_cost=80)
    await _refused(trials, service.InsufficientPoints, "还差 30 积分", dear, fan)
    plain = await trials.trial(points_cost=20)
    await _refused(trials, service.AnswersMissing, "回答", plain, fan, answers=[""])
    await _refused(trials, service.AddressMissing, "地址", plain, fan, address=None)
    await trials.apply(plain, fan)
    assert await trials.available(fan) == 30
    await _refused(trials, service.AlreadyApplied, "只能申请一次", plain, fan)


async def test_a_saved_address_is_used_as_the_mall_keeps_it(trials: Trials) -> None:
    from siyu.mall.schemas import AddressIn
    from tests.trials.conftest import ADDRESS

    fan = await trials.fan()
    saved = await mall.add_address(trials.session, tenant_id=trials.tenant_id, member_id=fan, data=AddressIn(**ADDRESS))
    row = await trials.apply(await trials.trial(), fan, address=None, address_id=saved.id)
    assert row.address["detail"] == "文三路 1 号"


async def _applied(trials: Trials, fans: int, **values: Any) -> tuple[Any, list[int], list[Application]]:
    trial = await trials.trial(**values)
    ids = [await trials.fan(points=100, nickname=f"粉丝{n}") for n in range(fans)]
    rows = [await trials.apply(trial, fan) for fan in ids]
    return await trials.close(trial), ids, rows


async def test_the_draw_needs_a_closed_window_and_a_seed_shown_first(trials: Trials) -> None:
    trial = await trials.trial()
    with pytest.raises(service.StillOpen):
        await service.publish_seed(trials.session, actor=trials.owner, trial_id=trial.id)
    await trials.close(trial)
    with pytest.raises(service.SeedMissing):
        await service.draw(trials.session, actor=trials.owner, trial_id=trial.id, data=DrawIn())
    first = await service.publish_seed(trials.session, actor=trials.owner, trial_id=trial.id)
    seed = first.seed
    again = await service.publish_seed(trials.session, actor=trials.owner, trial_id=trial.id)
    assert seed and again.seed == seed  # recorded once


async def test_exactly_the_quota_wins_once_losers_refunded_once_winners_shipped_and_told(trials: Trials) -> None:
    trial, _fans, rows = await _applied(trials, 7, quota=3, points_cost=40)
    await service.publish_seed(trials.session, actor=trials.owner, trial_id=trial.id)
    result = await service.draw(trials.session, actor=trials.owner, trial_id=trial.id, data=DrawIn())
    assert len(result.winners) == 3 and len(result.losers) == 4
    with pytest.raises(service.AlreadyDrawn):
        await service.draw(trials.session, actor=trials.owner, trial_id=trial.id, data=DrawIn())
    # the published seed and list reproduce the winners
    trial = await service.get_trial(trials.session, tenant_id=trials.tenant_id, trial_id=trial.id)
    expected = {rows[d.number - 1].id for d in rules.draw(trial.seed or "", [1] * 7, 3)}
    assert {w.id for w in result.winners} == expected
    listed = await service.published(trials.session, trial=trial)
    assert [e.number for e in listed if e.won] == sorted(rows.index(r) + 1 for r in rows if r.id in expected)
    assert all("粉" in e.name and "*" in e.name for e in listed)
    # losers have their 40 points back, once; winners paid
    for row in result.losers:
        assert await trials.available(row.member_id) == 100 and row.refunded_at is not None
    for row in result.winners:
        assert await trials.available(row.member_id) == 60 and row.status == AppStatus.won
    refunds = [e for e in await _entries(trials, "trial:") if e.kind == "refund"]
    assert len(refunds) == 4 and all(e.explanation.startswith("商品试用未中选，40 积分已退回") for e in refunds)
    await service._refund_losers(  # a second pass gives nothing more
        trials.session, tenant_id=trials.tenant_id, losers=result.losers, by="t", now=utcnow()
    )
    assert len([e for e in await _entries(trials, "trial:") if e.kind == "refund"]) == 4
    # winners in the mall's fulfilment queue, to the address they gave, and a notice each
    shipments = list(await trials.session.scalars(select(Redemption).where(Redemption.tenant_id == trials.tenant_id)))
    assert sorted(s.member_id for s in shipments) == sorted(w.member_id for w in result.winners)
    assert {s.status for s in shipments} == {Status.pending_shipment} and {s.points for s in shipments} == {0}
    jobs = await trials.session.scalars(
        select(Job).where(Job.tenant_id == trials.tenant_id, Job.kind == service.WON_JOB)
    )
    assert len(list(jobs)) == 3
    assert (await mall.list_rewards(trials.session, tenant_id=trials.tenant_id))[0].enabled is False


async def test_a_weighted_draw_uses_the_weights_recorded_and_a_manual_pick_exactly_the_quota(trials: Trials) -> None:
    trial, _fans, rows = await _applied(trials, 5, quota=2)
    with pytest.raises(service.BadPick):
        await service.draw(
            trials.session, actor=trials.owner, trial_id=trial.id, data=DrawIn(method="manual", picked=[rows[0].id])
        )
    done = await service.draw(
        trials.session,
        actor=trials.owner,
        trial_id=trial.id,
        data=DrawIn(method="manual", picked=[rows[0].id, rows[3].id]),
    )
    assert {w.id for w in done.winners} == {rows[0].id, rows[3].id}
    weighted, _f, wrows = await _applied(trials, 4, quota=1)
    await service.publish_seed(trials.session, actor=trials.owner, trial_id=weighted.id)
    result = await service.draw(
        trials.session, actor=trials.owner, trial_id=weighted.id, data=DrawIn(method="weighted")
    )
    weighted = await service.get_trial(trials.session, tenant_id=trials.tenant_id, trial_id=weighted.id)
    expected = rules.draw(weighted.seed or "", [r.weight for r in wrows], 1)[0].number
    assert result.winners[0].id == wrows[expected - 1].id


async def _winner(trials: Trials, **values: Any) -> tuple[Any, Application, Application]:
    trial, _fans, _rows = await _applied(trials, 2, quota=1, **values)
    await service.publish_seed(trials.session, actor=trials.owner, trial_id=trial.id)
    result = await service.draw(trials.session, actor=trials.owner, trial_id=trial.id, data=DrawIn())
    return trial, result.winners[0], result.losers[0]


async def test_only_a_winner_reports_with_checked_photos_and_nothing_is_kept_when_refused(trials: Trials) -> None:
    trial, winner, loser = await _winner(trials)
    args: dict[str, Any] = {"tenant_id": trials.tenant_id, "trial_id": trial.id, "data_dir": trials.data_dir}
    text = "用了一周，吸收很快，不油腻，会回购。"
    with pytest.raises(service.NotAWinner):
        await service.submit_report(trials.session, member_id=loser.member_id, text=text, photos=[], **args)
    with pytest.raises(service.TooManyPhotos) as many:
        await service.submit_report(trials.session, member_id=winner.member_id, text=text, photos=[png()] * 20, **args)
    assert "最多上传 9 张" in many.value.message
    with pytest.raises(images.NotAnImage):
        await service.submit_report(trials.session, member_id=winner.member_id, text=text, photos=[b"%PDF-1.4"], **args)
    with pytest.raises(images.ImageTooLarge):
        big = png() + b"\x00" * images.MAX_BYTES
        await service.submit_report(trials.session, member_id=winner.member_id, text=text, photos=[big], **args)
    with pytest.raises(service.ReportText):
        await service.submit_report(trials.session, member_id=winner.member_id, text="好", photos=[], **args)
    assert await _count(trials, Report) == 0 and not list(trials.data_dir.rglob("*.png"))
    report = await service.submit_report(
        trials.session, member_id=winner.member_id, text=text, photos=[png(), png(6, 6)], **args
    )
    assert len(report.photos) == 2
    with pytest.raises(service.AlreadyReported):
        await service.submit_report(trials.session, member_id=winner.member_id, text=text, photos=[], **args)


async def _deliver(trials: Trials, winner: Application, days_ago: float) -> None:
    row = await service.repository.get_application(trials.session, tenant_id=trials.tenant_id, application_id=winner.id)
    assert row is not None and row.redemption_id is not None
    await fulfil.ship(
        trials.session,
        actor=trials.owner,
        redemption_id=row.redemption_id,
        data=ShipIn(carrier="顺丰速运", tracking_no="SF1234567"),
    )
    await fulfil.deliver(
        trials.session, actor=trials.owner, redemption_id=row.redemption_id, now=utcnow() - timedelta(days=days_ago)
    )


async def test_an_overdue_report_gets_a_reminder_first_then_the_clawback_once(trials: Trials) -> None:
    trial, winner, _loser = await _winner(trials, report_days=7, penalty=Penalty.clawback, penalty_points=30)
    await _deliver(trials, winner, days_ago=3)
    assert (await service.sweep(trials.session, tenant_id=trials.tenant_id))["due_set"] == 1
    assert (await service.sweep(trials.session, tenant_id=trials.tenant_id)) == {
        "due_set": 0,
        "reminded": 0,
        "penalised": 0,
    }
    later = utcnow() + timedelta(days=5)
    assert (await service.sweep(trials.session, tenant_id=trials.tenant_id, now=later))["reminded"] == 1
    assert (await service.sweep(trials.session, tenant_id=trials.tenant_id, now=later + timedelta(hours=2)))[
        "penalised"
    ] == 0
    much_later = later + timedelta(days=2)
    assert (await service.sweep(trials.session, tenant_id=trials.tenant_id, now=much_later))["penalised"] == 1
    assert (await service.sweep(trials.session, tenant_id=trials.tenant_id, now=much_later))["penalised"] == 0
    again = await service.penalise(trials.session, trial=trial, application=winner, now=much_later)
    assert again is False
    taken = await _entries(trials, refs.trial_penalty_ref(winner.id))
    assert len(taken) == 1 and taken[0].amount == -30
    assert await trials.available(winner.member_id) == 70
    reminders = await trials.session.scalars(
        select(Job).where(Job.tenant_id == trials.tenant_id, Job.kind == service.REMINDER_JOB)
    )
    assert len(list(reminders)) == 1


async def test_a_barred_winner_may_not_apply_to_the_next_trials_and_a_reporter_is_never_penalised(
    trials: Trials,
) -> None:
    _trial, winner, _loser = await _winner(trials, report_days=1, penalty=Penalty.bar, bar_days=30)
    await _deliver(trials, winner, days_ago=5)
    now = utcnow()
    await service.sweep(trials.session, tenant_id=trials.tenant_id, now=now)
    assert (await service.sweep(trials.session, tenant_id=trials.tenant_id, now=now + timedelta(days=2)))[
        "penalised"
    ] == 1
    later = await trials.trial()
    await _refused(trials, service.NotEligible, "前不能申请试用", later, winner.member_id)
    # a winner who reported in time is left alone
    trial2, winner2, _l2 = await _winner(trials, report_days=1)
    await _deliver(trials, winner2, days_ago=5)
    await service.submit_report(
        trials.session,
        tenant_id=trials.tenant_id,
        member_id=winner2.member_id,
        trial_id=trial2.id,
        text="很好用，包装也很精致，推荐。",
        photos=[],
        data_dir=trials.data_dir,
    )
    for days in (0, 3, 6):
        done = await service.sweep(trials.session, tenant_id=trials.tenant_id, now=now + timedelta(days=days))
        assert done["penalised"] == 0


async def test_another_tenant_sees_nothing(trials: Trials) -> None:
    trial = await trials.trial()
    with pytest.raises(service.TrialNotFound):
        await service.get_trial(trials.session, tenant_id=trials.tenant_id + 1, trial_id=trial.id)


async def test_thresholds_at_their_edges(trials: Trials) -> None:
    silver = await loyalty.create_tier(trials.session, actor=trials.owner, data=TierIn(name="银卡会员", threshold=100))
    await loyalty.create_tier(trials.session, actor=trials.owner, data=TierIn(name="金卡会员", threshold=1000))
    trial = await trials.trial(min_points=80, points_cost=80)
    exact = await trials.fan(points=80)
    await trials.apply(trial, exact)  # exactly the minimum and exactly the cost
    assert await trials.available(exact) == 0
    short = await trials.fan(points=79)
    await _refused(trials, service.NotEligible, "积分余额至少 80", trial, short)
    silver_only = await trials.trial(min_tier_id=silver.id)
    fan = await trials.fan()
    await _refused(trials, service.NotEligible, "银卡及以上会员", silver_only, fan)
    from siyu.loyalty.models import MemberTier

    trials.session.add(MemberTier(tenant_id=trials.tenant_id, member_id=fan, tier_id=silver.id))
    await trials.session.flush()
    row = await trials.apply(silver_only, fan)  # exactly the minimum tier
    assert row.weight == 2 and row.tier_name == "银卡会员"  # the lowest tier weighs 2
