"""The customer's contest of a decision (GDPR art. 22): opening one, the reasons it puts first
in review, and marking it answered by the next adjuster's decision.
"""

from django.db import transaction
from django.utils import timezone

from assessment import selectors
from assessment.audit import audit_record
from assessment.models import AuditRecord, Contest, Decision
from claims.models import Claim
from claims.roles import Role, user_has_role
from claims.services import claim_transition
from config.errors import ConflictError, ForbiddenError

ERR_NOT_CONTESTABLE = "Only a decided claim can be contested (this claim is {status})."
ERR_CONTEST_OPEN = "This claim is already being looked at again; you will hear the outcome."
MSG_CONTEST_AUTOMATIC = "The customer contests the automatic decision ({outcome})."
MSG_CONTEST_HUMAN = "The customer contests {adjuster}'s decision ({outcome})."
# What a person decided, in the words of "{adjuster}'s decision (...)": the outcomes' display
# names say "by an adjuster", which the sentence already does.
HUMAN_OUTCOME_WORDS = {
    Decision.Outcome.APPROVED: "approved",
    Decision.Outcome.APPROVED_WITH_CORRECTIONS: "approved with corrections",
    Decision.Outcome.DENIED: "denied",
}
ERR_CONTEST_SAME_ADJUSTER = (
    "The customer contests your decision on this claim: a senior adjuster, not you, decides it."
)
MSG_SENIOR_REVIEW = "Contested decision: a senior adjuster decides, not the first decider."
ERR_SENIOR_REQUIRED = (
    "The customer contests a decision on this claim: it is in the senior adjusters' queue, and "
    "only a senior adjuster can take or decide it."
)
CONTEST_REASON_MAX = 1000  # characters: the API field's limit, kept whole in the audit record


def claim_contest(*, claim: Claim, user, reason: str = "") -> Contest:
    """The customer contests, or asks about, a decision (GDPR art. 22): automatic or a
    person's, the claim goes back to review with the customer's words at the top of why it is
    there, marked for a senior adjuster, and an append-only ``customer_contest`` record.

    The claim's row lock and the one-open-contest constraint make a double submit one contest.
    """
    reason = reason.strip()[:CONTEST_REASON_MAX]
    with transaction.atomic():
        locked = Claim.objects.select_for_update().get(pk=claim.pk)
        if not selectors.claim_contestable(claim=locked):
            code = (
                "contest_open"
                if locked.contests.filter(state=Contest.State.OPEN).exists()
                else None
            )
            raise ConflictError(
                ERR_CONTEST_OPEN if code else ERR_NOT_CONTESTABLE.format(status=locked.status),
                code=code or "not_contestable",
            )
        previous = (
            Decision.objects.filter(claim=locked)
            .select_related("policy", "model_version", "decided_by")
            .order_by("-created_at", "-id")
            .first()
        )
        if previous is None:  # a decided claim always has its decision; be explicit anyway
            raise ConflictError(
                ERR_NOT_CONTESTABLE.format(status=locked.status), code="not_contestable"
            )
        contest = Contest.objects.create(
            claim=locked, decision=previous, customer=user, reason=reason
        )
        reasons = contest_reasons(contest=contest)
        Decision.objects.create(
            claim=locked,
            outcome=Decision.Outcome.ROUTED_TO_REVIEW,
            automatic=False,
            reasons=reasons,
            policy=previous.policy,
            model_version=previous.model_version,
        )
        audit_record(
            claim=locked,
            kind=AuditRecord.Kind.CUSTOMER_CONTEST,
            actor=user,
            inputs={"contest": contest.pk, "decision": previous.pk},
            model_version=previous.model_version.version if previous.model_version else "",
            policy_version=previous.policy.version if previous.policy else None,
            rules_fired=reasons,
            outcome=Decision.Outcome.ROUTED_TO_REVIEW,
            detail={
                "previous_outcome": previous.outcome,
                "previous_automatic": previous.automatic,
                "previous_decided_by": previous.decided_by.get_username()
                if previous.decided_by
                else None,
                "reason": reason,
                "summary": reasons[0]["message"],
            },
        )
        claim_transition(claim=locked, to=Claim.Status.IN_REVIEW)
    return contest


def contest_reasons(*, contest: Contest) -> list[dict]:
    """Why a contested claim is in review, for adjusters, first in "why this claim is here":
    what was contested, who decided it and the customer's words, and the senior marker."""
    previous = contest.decision
    outcome = previous.get_outcome_display().lower()
    if previous.automatic:
        message = MSG_CONTEST_AUTOMATIC.format(outcome=outcome)
    else:
        adjuster = previous.decided_by.get_username() if previous.decided_by else "an adjuster"
        words = HUMAN_OUTCOME_WORDS.get(previous.outcome, outcome)
        message = MSG_CONTEST_HUMAN.format(outcome=words, adjuster=adjuster)
    if contest.reason:
        message += f" The customer wrote: \u201c{contest.reason}\u201d"
    return [
        {
            "code": "customer_contested",
            "message": message,
            **({"detail": contest.reason} if contest.reason else {}),
        },
        {"code": "senior_review", "message": MSG_SENIOR_REVIEW},
    ]


def contested_claim_ids(claim_ids) -> set:
    """Which of ``claim_ids`` have an open contest: the senior adjusters' queue."""
    return set(
        Contest.objects.filter(claim_id__in=claim_ids, state=Contest.State.OPEN).values_list(
            "claim_id", flat=True
        )
    )


def require_senior_for_contest(*, claim: Claim, adjuster) -> None:
    """A claim with an open contest is a senior adjuster's to take and decide: ForbiddenError
    (403 ``senior_adjuster_required``) for anyone else."""
    if user_has_role(adjuster, Role.SENIOR_ADJUSTER):
        return
    if Contest.objects.filter(claim=claim, state=Contest.State.OPEN).exists():
        raise ForbiddenError(ERR_SENIOR_REQUIRED, code="senior_adjuster_required")


def contest_answer(*, claim: Claim, decision: Decision, now=None) -> Contest | None:
    """Mark the claim's open contest answered by ``decision`` (an adjuster's, in the caller's
    transaction). A request for more photos answers nothing yet: the contest stays open until
    the claim is decided again. Only a senior adjuster acts on a contest (ForbiddenError), and
    not the one whose decision is contested (ConflictError); either rolls the caller's
    decision back."""
    contest = (
        Contest.objects.filter(claim=claim, state=Contest.State.OPEN)
        .select_related("decision")
        .first()
    )
    if contest is None:
        return None
    if not user_has_role(decision.decided_by, Role.SENIOR_ADJUSTER):
        raise ForbiddenError(ERR_SENIOR_REQUIRED, code="senior_adjuster_required")
    first = contest.decision.decided_by_id
    if first is not None and decision.decided_by_id == first:
        # The person whose decision is contested does not judge it again (senior review).
        raise ConflictError(ERR_CONTEST_SAME_ADJUSTER, code="contest_needs_another_adjuster")
    if decision.outcome in (Decision.Outcome.MORE_PHOTOS, Decision.Outcome.ROUTED_TO_REVIEW):
        return None
    contest.state = Contest.State.ANSWERED
    contest.answered_at = now or timezone.now()
    contest.answer = decision
    contest.save(update_fields=["state", "answered_at", "answer"])
    return contest
