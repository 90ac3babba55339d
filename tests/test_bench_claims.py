"""The claims benchmark's pure helpers (bench/claims_loop.py): claim grouping and the sweep."""

import pytest

from bench.claims_loop import auto_share, min_auto_for_target
from flywheel.claim_data import group_claims
from learning.backtest import error_upper_bound


def test_group_claims_covers_every_photo_once_within_the_sizes():
    claims = group_claims(50, seed=3, min_size=1, max_size=4)
    flat = [i for c in claims for i in c]
    assert sorted(flat) == list(range(50))
    assert all(1 <= len(c) <= 4 for c in claims)
    assert all(len(c) >= 1 for c in claims[:-1])


def test_group_claims_is_deterministic_by_seed():
    assert group_claims(40, seed=7) == group_claims(40, seed=7)
    assert group_claims(40, seed=7) != group_claims(40, seed=8)


def test_group_claims_fixed_size_and_bad_sizes():
    assert [len(c) for c in group_claims(6, seed=0, min_size=2, max_size=2)] == [2, 2, 2]
    with pytest.raises(ValueError):
        group_claims(6, seed=0, min_size=3, max_size=2)
    assert group_claims(0, seed=0) == []


def test_min_auto_for_target_is_the_zero_error_bound_crossing():
    n = min_auto_for_target(0.02, 0.95)
    assert n == 149  # 1 - 0.05 ** (1 / n) <= 0.02, the "rule of three" 3 / n
    assert error_upper_bound(0, n) <= 0.02 < error_upper_bound(0, n - 1)


def test_auto_share_small_n_never_reaches_the_bound():
    # 60 claims, all kept: the bound at n = 60 is ~4.9 %, above 2 %.
    out = auto_share([0.5 + i / 200 for i in range(60)], [True] * 60)
    assert out["share"] == 0.0 and out["threshold"] is None
    assert out["observed_share"] == 1.0  # no errors: everything passes without a bound
    assert out["best_upper"] == pytest.approx(error_upper_bound(0, 60), abs=1e-4)
    assert out["best_upper_n_auto"] == 60


def test_auto_share_takes_the_lowest_threshold_whose_bound_is_within_target():
    # 200 right claims scored high, 50 wrong scored low: the cut sits above the wrong ones.
    scores = [0.9 + i * 1e-4 for i in range(200)] + [0.1 + i * 1e-3 for i in range(50)]
    kept = [True] * 200 + [False] * 50
    out = auto_share(scores, kept)
    assert out["share"] == pytest.approx(200 / 250)
    assert out["threshold"] == pytest.approx(0.9)
    assert (out["n_auto"], out["n_errors"]) == (200, 0)


def test_auto_share_ties_are_never_split_and_empty_input():
    # one score for all: the only threshold takes every claim, errors included
    out = auto_share([0.01] * 300, [True] * 299 + [False])
    assert out["n_auto"] == 300 and out["n_errors"] == 1
    assert out["share"] == 1.0  # bound at 1 / 300 is ~1.6 %
    assert auto_share([], [])["share"] == 0.0
