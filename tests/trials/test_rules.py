"""The draw as a pure function: anyone re-runs it from the seed and the numbered list; every applicant has the same
chance in a plain draw (chi-square over many seeds) and a chance by weight in a weighted one."""

from __future__ import annotations

import hashlib
from collections import Counter

from siyu.trials import rules

# chi-square with 11 degrees of freedom: P(X > 31.26) = 0.001
CHI2_11_AT_0_001 = 31.26


def test_the_published_seed_reproduces_the_winners_by_hand() -> None:
    seed, weights = "5f0c2a", [1, 1, 1, 1, 1]
    keys = {n: int(hashlib.sha256(f"{seed}:{n}:1".encode()).hexdigest(), 16) for n in range(1, 6)}
    expected = sorted(keys, key=lambda n: keys[n])[:2]
    assert [d.number for d in rules.draw(seed, weights, 2)] == expected
    assert rules.draw(seed, weights, 2) == rules.draw(seed, weights, 2)


def test_a_quota_above_the_applications_draws_everyone_once() -> None:
    drawn = rules.draw("abc", [1, 2, 3], 10)
    assert sorted(d.number for d in drawn) == [1, 2, 3]


def test_every_applicant_has_the_same_chance_chi_square() -> None:
    n, quota, rounds = 12, 3, 4000
    wins: Counter[int] = Counter()
    for r in range(rounds):
        for d in rules.draw(f"seed-{r}", [1] * n, quota):
            wins[d.number] += 1
    expected = rounds * quota / n
    chi2 = sum((wins[k] - expected) ** 2 / expected for k in range(1, n + 1))
    assert chi2 < CHI2_11_AT_0_001, (chi2, wins)


def test_the_first_pick_of_a_weighted_draw_follows_the_weights() -> None:
    weights, rounds = [1, 2, 3, 4], 6000
    first: Counter[int] = Counter()
    for r in range(rounds):
        first[rules.draw(f"w-{r}", weights, 1)[0].number] += 1
    total = sum(weights)
    expected = {n: rounds * w / total for n, w in enumerate(weights, start=1)}
    chi2 = sum((first[k] - e) ** 2 / e for k, e in expected.items())
    assert chi2 < 16.27, (chi2, first)  # 3 degrees of freedom, p = 0.001


def test_tier_weights() -> None:
    assert rules.tier_weight(None) == 1 and rules.tier_weight(0) == 2 and rules.tier_weight(30) == 10
