"""Admin action for staff: fit the confidence thresholds to review outcomes and save them as a
new (inactive) policy version, the selected version's other rules kept."""

from django.contrib import admin, messages

from assessment import backtest, calibration
from assessment.admin import DecisionPolicyAdmin

MSG_SELECT_ONE = "Select exactly one policy version to calibrate from."
MSG_SAVED = "Saved as version {version} (inactive; activate it to use it): {summary}"


@admin.action(
    description="Calibrate thresholds from review outcomes (new version)", permissions=["add"]
)
def decision_policy_calibrate(modeladmin, request, queryset) -> None:
    """Target error, confidence and minimum sample are the command's defaults; use
    ``manage.py calibrate`` to change them or to see the curve."""
    if queryset.count() != 1:
        modeladmin.message_user(request, MSG_SELECT_ONE, messages.ERROR)
        return
    try:
        run = calibration.calibration_run(
            base_policy=queryset.get(),
            target_error=backtest.DEFAULT_TARGET_ERROR,
            min_claims=backtest.DEFAULT_MIN_CLAIMS,
        )
        created = calibration.calibration_adopt(run=run, created_by=request.user)
    except backtest.CalibrationError as exc:
        modeladmin.message_user(request, str(exc), messages.ERROR)
        return
    modeladmin.message_user(
        request,
        MSG_SAVED.format(version=created.version, summary=run.calibration.summary()),
        messages.SUCCESS,
    )


DecisionPolicyAdmin.actions = [*DecisionPolicyAdmin.actions, decision_policy_calibrate]
