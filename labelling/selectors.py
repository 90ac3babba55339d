"""Reads for labelling projects: who sees which project, items, progress and pre-labels.

Visibility is one rule everywhere: the data team and admins see every project; anyone else
sees the projects they are a member of, and a project they are not in does not exist for them
(404, never 403, so ids cannot be probed).
"""

import uuid

from django.db.models import Count, Q, QuerySet

from config.errors import NotFoundError
from labelling.models import ItemPrediction, LabellingProject, ProjectItem, ProjectMember
from labelling.services import item_prediction_shown, user_can_manage_projects

ERR_PROJECT_NOT_FOUND = "No such labelling project."
ERR_ITEM_NOT_FOUND = "No such item in this project."
ERR_USER_NOT_FOUND = "No such user."
ERR_MEMBER_NOT_FOUND = "No such member of this project."
ERR_IMAGE_MISSING = "This item's image is missing from storage."


def project_list(*, user) -> QuerySet[LabellingProject]:
    projects = LabellingProject.objects.all()
    if not user_can_manage_projects(user):
        projects = projects.filter(memberships__user=user).distinct()
    return projects.order_by("-created_at", "-id")


def project_get(*, user, project_id) -> LabellingProject:
    try:
        pk = int(str(project_id))
    except ValueError:
        raise NotFoundError(ERR_PROJECT_NOT_FOUND) from None
    project = project_list(user=user).filter(pk=pk).first()
    if project is None:
        raise NotFoundError(ERR_PROJECT_NOT_FOUND)
    return project


def project_roles(*, project: LabellingProject, user) -> list[str]:
    """The user's roles in the project; a manager counts as both (they run the project)."""
    if user_can_manage_projects(user):
        return [ProjectMember.Role.LABELLER.value, ProjectMember.Role.REVIEWER.value]
    return sorted(
        ProjectMember.objects.filter(project=project, user=user).values_list("role", flat=True)
    )


def user_by_username(*, username: str):
    """An account to add to a project (case-insensitive, as sign-in is)."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username__iexact=username.strip()).first()
    if user is None:
        raise NotFoundError(ERR_USER_NOT_FOUND, code="user_not_found")
    return user


def project_membership_get(*, project: LabellingProject, user_id, role: str) -> ProjectMember:
    try:
        pk = int(str(user_id))
    except ValueError:
        raise NotFoundError(ERR_MEMBER_NOT_FOUND) from None
    membership = project.memberships.select_related("user").filter(user_id=pk, role=role).first()
    if membership is None:
        raise NotFoundError(ERR_MEMBER_NOT_FOUND)
    return membership


def project_members(*, project: LabellingProject) -> QuerySet[ProjectMember]:
    return project.memberships.select_related("user").order_by("user__username", "role")


def project_progress(*, project: LabellingProject) -> dict:
    """Counts of the project's items by status (every status present, zeros included), the
    total, and how many items have a prediction and are shown without pre-labels."""
    counts = dict(
        ProjectItem.objects.filter(project=project)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    by_status = {status: counts.get(status, 0) for status in ProjectItem.Status.values}
    total = sum(by_status.values())
    waiting = by_status[ProjectItem.Status.NEW] + by_status[ProjectItem.Status.PRELABELLING]
    return {
        "total": total,
        "by_status": by_status,
        "prelabelled": total - waiting,
        "prelabelling_done": total > 0 and waiting == 0,
        "with_prediction": ItemPrediction.objects.filter(item__project=project)
        .values("item")
        .distinct()
        .count(),
        "without_prelabels": ProjectItem.objects.filter(
            project=project, show_prelabels=False
        ).count(),
        "flagged": ProjectItem.objects.filter(project=project, flagged=True).count(),
    }


def item_list(*, project: LabellingProject, status: str | None = None) -> QuerySet[ProjectItem]:
    items = ProjectItem.objects.filter(project=project).select_related("labels")
    if status:
        items = items.filter(status=status)
    return items.order_by("created_at", "id")


def item_get(*, project: LabellingProject, item_id) -> ProjectItem:
    try:
        pk = uuid.UUID(str(item_id))
    except ValueError:
        raise NotFoundError(ERR_ITEM_NOT_FOUND) from None
    item = (
        ProjectItem.objects.select_related("project", "labels")
        .filter(project=project, pk=pk)
        .first()
    )
    if item is None:
        raise NotFoundError(ERR_ITEM_NOT_FOUND)
    return item


def item_prelabels(*, item: ProjectItem) -> ItemPrediction | None:
    """What a labeller may see of the model's reading: nothing on a from-scratch item."""
    return item_prediction_shown(item=item)


def items_for_training(*, project_id: int | None = None) -> QuerySet[ProjectItem]:
    """Items whose labels are final, for training and exports: accepted in QA, or labelled and
    not drawn for QA (with qa_share 0 that is every labelled item). Items in or waiting for QA,
    sent back or still being labelled are not: their labels may yet change. By item id."""
    S = ProjectItem.Status
    items = ProjectItem.objects.filter(labels__isnull=False).filter(
        Q(status=S.ACCEPTED) | Q(status=S.LABELLED, qa_selected=False)
    )
    if project_id is not None:
        items = items.filter(project_id=project_id)
    return items.select_related("labels", "project").order_by("id")
