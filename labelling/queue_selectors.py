"""Reads for the labelling screen's queues: what a labeller may take next, what a reviewer has
to check, and the order the screen walks them in (F / D).

An item someone else holds a live lock on (``labelling.locks``) is not offered. The order is
the items' import order, so next and previous stay where a person expects them; "next" for
someone starting work puts their own sent-back and unfinished items first.
"""

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from labelling.models import ItemLock, LabellingProject, ProjectItem, ProjectMember, QAReview
from labelling.selectors import project_roles

S = ProjectItem.Status

# Statuses a labeller can work on. A new item waiting for its pre-labels is offered only when
# it is shown without them: labelled before the model's regions arrive, a pre-labelled item
# would be timed as if labelled from scratch and spoil the time-saved measurement.
LABELLING_STATUSES = [S.PRELABELLED, S.IN_PROGRESS, S.SENT_BACK]
SCRATCH_WAITING_STATUSES = [S.NEW, S.PRELABELLING]
# A labeller may step back (D) to items they finished and nobody has checked yet.
REVISIT_STATUSES = [S.LABELLED, S.SKIPPED]


def _locked_by_others(user, now) -> Q:
    return Q(lock__expires_at__gt=now) & ~Q(lock__user=user)


def labelling_queue(*, project: LabellingProject, user, now=None) -> QuerySet[ProjectItem]:
    """Items ``user`` may label next in ``project``: unassigned or theirs, not held by anyone
    else, in import order."""
    now = now or timezone.now()
    workable = Q(status__in=LABELLING_STATUSES) | Q(
        status__in=SCRATCH_WAITING_STATUSES, show_prelabels=False
    )
    return (
        ProjectItem.objects.filter(project=project)
        .filter(workable)
        .filter(Q(assigned_to__isnull=True) | Q(assigned_to=user))
        .exclude(_locked_by_others(user, now))
        .order_by("created_at", "id")
    )


def labelling_walk(*, project: LabellingProject, user, now=None) -> QuerySet[ProjectItem]:
    """What F / D step through: the queue and the labeller's own finished or skipped items."""
    now = now or timezone.now()
    mine = Q(status__in=REVISIT_STATUSES, assigned_to=user)
    queue = labelling_queue(project=project, user=user, now=now)
    return (
        ProjectItem.objects.filter(project=project)
        .filter(Q(pk__in=queue.values("pk")) | mine)
        .exclude(_locked_by_others(user, now))
        .order_by("created_at", "id")
    )


def qa_queue(*, project: LabellingProject, user, now=None) -> QuerySet[ProjectItem]:
    """Items waiting for QA that ``user`` may check: not their own labels (the service refuses
    those), not held by another reviewer, oldest first."""
    now = now or timezone.now()
    return (
        ProjectItem.objects.filter(project=project, status=S.IN_QA)
        .exclude(labels__labeller=user)
        .exclude(_locked_by_others(user, now))
        .select_related("labels")
        .order_by("created_at", "id")
    )


def queue_for(*, project: LabellingProject, user, purpose: str, now=None):
    if purpose == ItemLock.Purpose.QA:
        return qa_queue(project=project, user=user, now=now)
    return labelling_queue(project=project, user=user, now=now)


def queue_first_order(*, items: QuerySet[ProjectItem], user) -> QuerySet[ProjectItem]:
    """Someone starting work gets their own sent-back items first, then their unfinished ones."""
    return items.annotate(
        mine_first=Case(
            When(status=S.SENT_BACK, assigned_to=user, then=Value(0)),
            When(status=S.IN_PROGRESS, assigned_to=user, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
    ).order_by("mine_first", "created_at", "id")


def queue_neighbour(
    *, items: QuerySet[ProjectItem], current: ProjectItem, forward: bool
) -> ProjectItem | None:
    """The item after (or before) ``current`` in import order, among ``items``."""
    after = Q(created_at__gt=current.created_at) | Q(
        created_at=current.created_at, id__gt=current.id
    )
    before = Q(created_at__lt=current.created_at) | Q(
        created_at=current.created_at, id__lt=current.id
    )
    if forward:
        return items.filter(after).order_by("created_at", "id").first()
    return items.filter(before).order_by("-created_at", "-id").first()


def project_screen_roles(*, project: LabellingProject, user) -> dict[str, bool]:
    roles = project_roles(project=project, user=user)
    return {
        "labeller": ProjectMember.Role.LABELLER in roles,
        "reviewer": ProjectMember.Role.REVIEWER in roles,
    }


def project_queue_counts(*, project: LabellingProject, user) -> dict[str, int]:
    """How many items wait for ``user``: to label, and to check in QA."""
    return {
        "label": labelling_queue(project=project, user=user).count(),
        "qa": qa_queue(project=project, user=user).count(),
    }


def item_last_send_back(*, item: ProjectItem) -> QAReview | None:
    """The reviewer's note the labeller has to act on: the last send-back of an item that is
    still sent back or being reworked."""
    if item.status not in (S.SENT_BACK, S.IN_PROGRESS):
        return None
    return (
        item.qa_reviews.filter(outcome=QAReview.Outcome.SENT_BACK)
        .select_related("reviewer")
        .order_by("-created_at", "-id")
        .first()
    )
