"""The pure decisions: codes, who is the inviter herself, what is suspicious."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from siyu.engagement.referrals import rules
from siyu.engagement.referrals.rules import Person

HER = Person(
    phones=frozenset({"13800138000"}),
    unionids=frozenset({"o6_bmasdasdsad6_2sgVt7hMZOPfL"}),
    devices=frozenset({"dev-a"}),
    networks=frozenset({"net-a"}),
)


def test_the_same_phone_unionid_device_or_network_is_the_inviter_herself() -> None:
    assert rules.self_referral(HER, Person(phones=frozenset({"13800138000"}))) == "same_phone"
    assert rules.self_referral(HER, Person(unionids=HER.unionids)) == "same_unionid"
    assert rules.self_referral(HER, Person(devices=frozenset({"dev-a", "dev-b"}))) == "same_device"
    assert rules.self_referral(HER, Person(networks=frozenset({"net-a"}))) == "same_network"
    friend = Person(phones=frozenset({"13900139000"}), devices=frozenset({"dev-b"}), networks=frozenset({"net-b"}))
    assert rules.self_referral(HER, friend) is None
    assert rules.self_referral(Person(), Person()) is None  # nothing known: nothing shared


def test_suspicion_a_shared_device_first_then_a_busy_network() -> None:
    assert rules.suspicion(invitees_from_network=9, network_limit=5, device_seen_before=True) == "shared_device"
    assert rules.suspicion(invitees_from_network=5, network_limit=5, device_seen_before=False) == "busy_network"
    assert rules.suspicion(invitees_from_network=4, network_limit=5, device_seen_before=False) is None
    assert rules.suspicion(invitees_from_network=99, network_limit=0, device_seen_before=False) is None  # no limit


@given(st.text(max_size=12))
def test_any_text_is_a_code_only_in_the_unambiguous_alphabet(text: str) -> None:
    code = rules.normalise_code(text)
    if code is not None:
        assert len(code) == rules.CODE_LENGTH and set(code) <= set(rules.ALPHABET)


def test_new_codes_read_back_as_themselves() -> None:
    for _ in range(200):
        code = rules.new_code()
        assert rules.normalise_code(f" {code.lower()} ") == code


def test_board_prizes_drop_trailing_empty_ranks() -> None:
    assert rules.board_prizes([300, 0, 100, 0, 0]) == [300, 0, 100]
    assert rules.board_prizes([0]) == []
