"""``manage.py calibrate`` and the admin action: curve files, the printed table, refusals, and
adoption as a new policy version."""

import csv
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from assessment import configuration
from assessment.models import Decision, DecisionPolicy
from claims.tests.factories import AdjusterFactory, CustomerFactory, UserFactory
from learning import backtest
from learning.tests.calibration_factories import reviewed_claim_create

pytestmark = pytest.mark.django_db

# 60 claims: the adjuster changed every one the model scored below 0.70 and none above. 35 lie
# above, enough to certify 10% at 95% confidence with no error (1 - 0.05**(1/35) = 8.2%); one
# more claim with its error would not be (12.5%). So the answer is photo >= 0.70.
TARGET = "0.1"


@pytest.fixture
def history(db):
    owner, adjuster = CustomerFactory(), AdjusterFactory()
    for confidence in np.linspace(0.5, 0.99, 60).round(4).tolist():
        changed = confidence < 0.7
        outcome = Decision.Outcome.DENIED if changed else Decision.Outcome.APPROVED
        reviewed_claim_create(
            owner=owner, adjuster=adjuster, photo_confidence=confidence, outcome=outcome
        )


def _calibrate(*args) -> str:
    out = StringIO()
    call_command("calibrate", *args, stdout=out)
    return out.getvalue()


def test_calibrate_command_writes_curve_and_proposes_thresholds(history, tmp_path):
    # given
    active = configuration.decision_policy_active()
    # when
    output = _calibrate("--target-error", TARGET, "--min-claims", "50", "--out", str(tmp_path))
    # then the proposal and the table are printed
    assert "60 reviewed claims (25 changed by the adjuster" in output
    assert "proposal: calibrated on 60 reviewed claims, target 10.0%: photo>=0.70" in output
    assert "*    0.70" in output  # the chosen row of the table
    # the curve is written: every grid point, the chosen one marked
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((tmp_path / "curve.csv").open()))
    assert len(rows) == len(backtest.DEFAULT_GRID) ** 2
    chosen = [r for r in rows if r["chosen"] == "1"]
    assert len(chosen) == 1
    assert float(chosen[0]["photo_threshold"]) == 0.70
    assert (int(chosen[0]["n_auto"]), int(chosen[0]["n_auto_changed"])) == (35, 0)
    assert (tmp_path / "summary.json").exists()
    # and nothing is adopted without --adopt
    assert list(DecisionPolicy.objects.values_list("version", flat=True)) == [active.version]


def test_calibrate_command_adopt_creates_an_inactive_version(history, tmp_path):
    # given
    active = configuration.decision_policy_active()
    # when
    output = _calibrate(
        "--target-error", TARGET, "--min-claims", "50", "--out", str(tmp_path), "--adopt"
    )
    # then
    created = DecisionPolicy.objects.get(version=active.version + 1)
    assert f"saved policy v{created.version} (inactive" in output
    assert created.is_active is False
    assert configuration.decision_policy_active().pk == active.pk
    assert created.rules == {
        **active.rules,
        "min_photo_confidence": 0.70,
        "min_region_confidence": 0.95,
    }
    assert created.note.startswith("calibrated on 60 reviewed claims, target 10.0%: photo>=0.70")
    assert created.note.endswith(f"(from v{active.version})")


def test_calibrate_command_activate_makes_it_the_active_policy(history, tmp_path):
    staff = UserFactory(username="riskteam")
    _calibrate(
        "--target-error", TARGET, "--min-claims", "50", "--out", str(tmp_path),
        "--adopt", "--activate", "--user", "riskteam",
    )  # fmt: skip
    active = configuration.decision_policy_active()
    assert active.rules["min_photo_confidence"] == 0.70
    assert active.created_by == staff


def test_calibrate_command_too_few_claims_refuses(history, tmp_path):
    with pytest.raises(CommandError) as exc:
        _calibrate("--out", str(tmp_path / "out"), "--adopt")
    assert str(exc.value) == backtest.ERR_TOO_FEW_CLAIMS.format(n=60, minimum=200)
    assert not (tmp_path / "out").exists()
    assert DecisionPolicy.objects.count() == 1


def test_calibrate_command_unreachable_target_writes_curve_but_adopts_nothing(history, tmp_path):
    with pytest.raises(CommandError) as exc:
        _calibrate(
            "--target-error", "0.02", "--min-claims", "50", "--out", str(tmp_path), "--adopt"
        )
    assert str(exc.value).startswith("No thresholds meet 2.0% error at 95% confidence on 60")
    assert (tmp_path / "curve.csv").exists()
    assert DecisionPolicy.objects.count() == 1


def test_calibrate_command_activate_needs_adopt(tmp_path):
    with pytest.raises(CommandError, match="--activate only applies with --adopt"):
        _calibrate("--activate", "--out", str(tmp_path))


def test_decision_policy_admin_calibrate_action_saves_a_version(history, client, monkeypatch):
    # given the product's defaults lowered to fit this small history
    monkeypatch.setattr(backtest, "DEFAULT_TARGET_ERROR", 0.1)
    monkeypatch.setattr(backtest, "DEFAULT_MIN_CLAIMS", 50)
    base = configuration.decision_policy_active()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    # when
    response = client.post(
        "/admin/assessment/decisionpolicy/",
        {"action": "decision_policy_calibrate", "_selected_action": [base.pk]},
        follow=True,
    )
    # then
    created = DecisionPolicy.objects.get(version=base.version + 1)
    assert created.is_active is False
    assert created.rules["min_photo_confidence"] == 0.70
    assert f"Saved as version {created.version} (inactive" in response.content.decode()
