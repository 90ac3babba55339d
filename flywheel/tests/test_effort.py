"""The effort model and the time-saved arithmetic (flywheel.effort)."""

import pytest

from flywheel.effort import (
    DEFAULT_EFFORT,
    EffortModel,
    PhotoWork,
    claim_effort,
    seed_example,
    time_saved,
)


def test_the_seeds_worked_example_saves_about_sixty_percent():
    # 80 % right: 0.8 * 1 s + 0.2 * (1 s lost + 6 s drawing) = 2.2 s against 6 s
    assert seed_example() == pytest.approx(1 - 2.2 / 6)
    assert 0.55 < seed_example() < 0.65


def test_the_seeds_example_moves_with_its_inputs():
    assert seed_example(correct=1.0) == pytest.approx(1 - 1 / 6)
    assert seed_example(correct=0.0) == pytest.approx(1 - 7 / 6)  # worse than from scratch
    with pytest.raises(ValueError):
        seed_example(correct=1.5)


def test_the_bdd100k_adjust_time_reproduces_its_sixty_percent_at_forty_percent_right():
    # 40 % accepted, 60 % adjusted, against drawing everything (module docstring)
    m = DEFAULT_EFFORT
    assisted = 0.4 * m.accept_s + 0.6 * m.adjust_s
    assert time_saved(assisted, m.draw_s) == pytest.approx(0.6, abs=0.01)


def test_a_photo_is_priced_from_its_ledger():
    # given one save's ledger: two accepted, one reshaped and relabelled, one only relabelled,
    # one deleted, one drawn
    entries = [
        {"action": "accepted", "source_index": 0},
        {"action": "accepted", "source_index": 1},
        {"action": "reshaped", "source_index": 2},
        {"action": "relabelled", "source_index": 2},
        {"action": "relabelled", "source_index": 3},
        {"action": "deleted", "source_index": 4},
        {"action": "added", "source_index": None},
    ]
    work = PhotoWork.from_ledger(entries, final_regions=5)
    m = EffortModel()
    # then each action is paid once, and the region only relabelled pays one check
    assert work.fixed_in_place == 1
    assisted = (
        m.photo_s
        + 2 * m.accept_s
        + m.adjust_s
        + 2 * m.retype_s
        + (m.check_s + m.delete_s)
        + m.draw_s
        + m.check_s
    )
    assert m.assisted_seconds(work) == pytest.approx(assisted)
    assert m.scratch_seconds(work) == pytest.approx(m.photo_s + 5 * m.draw_s)


def test_a_claim_adds_one_decision_both_ways():
    m = EffortModel()
    photos = [
        PhotoWork(actions={"accepted": 3}, final_regions=3),
        PhotoWork(actions={}, final_regions=0),
    ]
    effort = claim_effort(photos, m)
    assert effort.assisted_s == pytest.approx(2 * m.photo_s + 3 * m.accept_s + m.decide_s)
    assert effort.scratch_s == pytest.approx(2 * m.photo_s + 3 * m.draw_s + m.decide_s)
    assert effort.saved == pytest.approx(1 - effort.assisted_s / effort.scratch_s)
    assert (effort + effort).claims == 2


def test_unknown_actions_and_empty_work_are_refused_or_none():
    with pytest.raises(ValueError, match="unknown review actions"):
        PhotoWork.from_ledger([{"action": "guessed", "source_index": 0}], final_regions=1)
    assert time_saved(0.0, 0.0) is None
    with pytest.raises(ValueError):
        time_saved(-1.0, 2.0)


def test_scaling_to_measured_time_scales_every_figure():
    doubled = DEFAULT_EFFORT.scaled(2.0)
    assert doubled.draw_s == 2 * DEFAULT_EFFORT.draw_s
    assert doubled.decide_s == 2 * DEFAULT_EFFORT.decide_s
    with pytest.raises(ValueError):
        DEFAULT_EFFORT.scaled(0)
