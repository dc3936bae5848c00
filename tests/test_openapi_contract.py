"""Schemathesis against our own OpenAPI on the served app: no 5xx, documented codes, conforming bodies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.support.databases import fresh_database
from tests.support.server import Served, demo_owner_key, served

# Operations whose valid-looking input can still be refused by a rule no JSON schema can state.
RULES_BEYOND_SCHEMA = {
    ("POST", "/api/v1/staff"): "a new account needs a password; adding an existing account does not",
    ("POST", "/api/v1/api-keys"): "an expiry must lie in the future",
    ("POST", "/api/v1/order-imports"): "the file must be an order export the importer recognises",
    ("POST", "/api/v1/order-mappings"): "the mapped columns must be headers of the file, the required ones present",
    ("POST", "/api/v1/members"): "an identity's value is checked by its kind (a phone is a mainland mobile number)",
    ("POST", "/api/v1/points/campaigns"): "a campaign ends after it starts and gives something (times, bonus)",
    ("PUT", "/api/v1/points/campaigns/{campaign_id}"): "a campaign ends after it starts and gives something",
    ("POST", "/api/v1/claims/review"): "a rejection needs a reason the fan is told",
    ("POST", "/api/v1/members/{member_id}/identities"): "an identity's value is checked by its kind",
    ("POST", "/api/v1/fan/{slug}/auth/sms-code"): "the phone must be a mainland mobile number",
    ("POST", "/api/v1/fan/{slug}/auth/sms"): "the phone must be a mainland mobile number",
    ("POST", "/api/v1/mall/rewards"): "windows end after they start; goods and codes need a stock; tiers must exist",
    ("PUT", "/api/v1/mall/rewards/{reward_id}"): "as when creating; a code reward stays a code reward",
    ("PUT", "/api/v1/mall/rewards/{reward_id}/image"): "the file must really be an image of at most 2 MB",
    ("POST", "/api/v1/mall/rewards/{reward_id}/codes"): "only a code reward takes codes",
    ("POST", "/api/v1/mall/tracking-imports"): "the file must have the columns 兑换单号, 快递公司 and 运单号",
    ("POST", "/api/v1/mall/lotteries"): "ends after it starts; a live no-prize entry; reward prizes name a code, "
    "coupon or trial reward of the tenant",
    ("PUT", "/api/v1/mall/lotteries/{lottery_id}"): "as when creating; prize ids are the campaign's own",
    ("POST", "/api/v1/fan/{slug}/mall/rewards/{reward_id}/redeem"): "an address names a province, city and district "
    "of the region list (the body is read before the fan's token, as on the claim route)",
    ("POST", "/api/v1/tasks"): "ends after it starts; a survey has questions (a choice two options), a follow task "
    "names the account; profile and binding tasks are one-time",
    ("PUT", "/api/v1/tasks/{task_id}"): "as when creating; a task keeps its kind",
    ("POST", "/api/v1/tasks/reviews/{review_id}/decision"): "a rejection needs a reason the fan is told",
    ("POST", "/api/v1/referrals/leaderboards"): "a leaderboard ends after it starts and gives at least one prize",
    ("POST", "/api/v1/referrals/{referral_id}/review"): "a rejection needs a reason",
    ("PUT", "/api/v1/checkin/rules"): "one reward a day; with a cycle, reward days lie within it",
    ("POST", "/api/v1/checkin/rules/preview"): "as when saving the rules",
    ("POST", "/api/v1/groups"): "the lowest tier and the segment named must be the tenant's",
    ("PUT", "/api/v1/groups/{group_id}"): "as when creating; an overflow group keeps its main group's thresholds",
    ("PUT", "/api/v1/groups/{group_id}/qr"): "the file must really be an image of at most 2 MB",
    ("POST", "/api/v1/fan/{slug}/voice/demands"): "category and price range from their lists; a photo must really "
    "be an image; five a week",
    ("POST", "/api/v1/fan/{slug}/voice/wishes"): "ten wishes a day",
    ("POST", "/api/v1/voice/surveys"): "a choice question has two options",
    ("POST", "/api/v1/live/shows"): "a show ends after it starts and starts in the future, on one of the tenant's "
    "channels",
    ("PUT", "/api/v1/live/shows/{show_id}"): "as when creating",
    ("PUT", "/api/v1/live/shows/{show_id}/cover"): "the file must really be an image of at most 2 MB",
    ("POST", "/api/v1/trials"): "applications close after they open; the lowest tier and the segment named must be "
    "the tenant's",
    ("PUT", "/api/v1/trials/{trial_id}"): "as when creating; once someone applied only texts and report rules change",
    ("PUT", "/api/v1/trials/{trial_id}/image"): "the file must really be an image of at most 2 MB",
    ("POST", "/api/v1/segments"): "ranges run from low to high; tiers, tags and the show named must be the tenant's; "
    "names are unique",
    ("PUT", "/api/v1/segments/{segment_id}"): "as when creating",
    ("POST", "/api/v1/segments/preview"): "ranges run from low to high; a city is a name",
    ("POST", "/api/v1/segments/{segment_id}/tag"): "the tag must be one of the tenant's",
    ("POST", "/api/v1/tags"): "names are unique",
    ("PUT", "/api/v1/tags/{tag_id}"): "names are unique",
    ("PUT", "/api/v1/tags/{tag_id}/rule"): "as a segment's filter, and a rule never names its own tag",
    ("POST", "/api/v1/tags/{tag_id}/members"): "the members must be the tenant's",
}


@pytest.fixture(scope="module")
def contract_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, str]]:
    directory = tmp_path_factory.mktemp("contract")
    with fresh_database(directory, "contract") as url, served(url, directory) as server:
        yield server, demo_owner_key(url)


def test_api_conforms_to_its_schema(contract_server: tuple[Served, str]) -> None:
    """Every operation, with generated valid inputs, as the owner's API key."""
    server, key = contract_server
    api = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    # NUL is refused by design before any validation (tests/test_http_errors.py covers it).
    api.config.generation.update(allow_x00=False)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:
        beyond = (operation.method.upper(), operation.path) in RULES_BEYOND_SCHEMA
        excluded = [positive_data_acceptance] if beyond else []
        _check_operation(operation, key, excluded)


def _check_operation(operation: Any, key: str, excluded: list[Any]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: schemathesis.Case) -> None:
        skipped = list(excluded)
        if positive_data_acceptance not in skipped and _beyond_float_precision(case.body):
            # The generator compares integer bounds as floats: an id a little above 2**62 passes for the bound.
            skipped.append(positive_data_acceptance)
        case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, excluded_checks=skipped)

    check()


def _beyond_float_precision(value: Any) -> bool:
    """Whether a generated body holds an integer that a float cannot hold exactly (above 2**53)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) > 2**53
    if isinstance(value, dict):
        return any(_beyond_float_precision(v) for v in value.values())
    if isinstance(value, list):
        return any(_beyond_float_precision(v) for v in value)
    return False


def test_openapi_is_served_and_names_every_api_route(contract_server: tuple[Served, str], tmp_path: Path) -> None:
    import httpx

    server, _key = contract_server
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    assert spec["info"]["title"].startswith("siyu")
    assert "/api/v1/channels/{channel_id}" in spec["paths"]
    assert all(path.startswith(("/api/v1/", "/healthz")) for path in spec["paths"])
