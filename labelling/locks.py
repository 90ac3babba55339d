"""Item locks for the labelling screen: the one person who has an item open, so two labellers
(or two reviewers) are not handed the same item. review.locks' pattern: taken under the item's
row lock, renewed by the open screen, expiring when it stops (a closed tab), taken over once
lapsed. The labels themselves are guarded by their version (``labelling.services``), so a lock
is about not doubling work, never the last line against lost updates.
"""

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import ConflictError
from labelling import queue_selectors
from labelling.models import ItemLock, LabellingProject, ProjectItem
from labelling.services import (
    ERR_NOT_LABELLER,
    ERR_NOT_REVIEWER,
    LabellingPermissionError,
)

logger = logging.getLogger(__name__)

# As review's default (CLAIMVISION_REVIEW_LOCK_MINUTES): the screen renews every minute while
# the person is active, so a lock outlives a coffee but not a closed tab by long.
LOCK_MINUTES = 15

ERR_ITEM_LOCKED = "{name} has this item open (until {until})."


def _display_name(user) -> str:
    return user.get_full_name() or user.get_username()


def _require_purpose_role(project: LabellingProject, user, purpose: str) -> None:
    roles = queue_selectors.project_screen_roles(project=project, user=user)
    if purpose == ItemLock.Purpose.QA and not roles["reviewer"]:
        raise LabellingPermissionError(ERR_NOT_REVIEWER)
    if purpose == ItemLock.Purpose.LABEL and not roles["labeller"]:
        raise LabellingPermissionError(ERR_NOT_LABELLER)


def item_lock_take(*, item: ProjectItem, user, purpose: str, now=None) -> ItemLock:
    """Take or renew ``user``'s lock on ``item``; a live lock of someone else's is a 409
    ``item_locked``, a lapsed one is taken over."""
    now = now or timezone.now()
    _require_purpose_role(item.project, user, purpose)
    with transaction.atomic():
        ProjectItem.objects.select_for_update().filter(pk=item.pk).first()
        lock = ItemLock.objects.select_related("user").filter(item=item).first()
        if lock is not None and lock.user_id != user.pk and lock.expires_at > now:
            until = timezone.localtime(lock.expires_at).strftime("%H:%M")
            raise ConflictError(
                ERR_ITEM_LOCKED.format(name=_display_name(lock.user), until=until),
                code="item_locked",
                details={
                    "user": lock.user.get_username(),
                    "expires_at": lock.expires_at.isoformat(),
                },
            )
        if lock is None:
            lock = ItemLock(item=item, taken_at=now)
        elif lock.user_id != user.pk or lock.purpose != purpose:
            lock.taken_at = now
        lock.user = user
        lock.purpose = purpose
        lock.expires_at = now + timedelta(minutes=LOCK_MINUTES)
        try:
            with transaction.atomic():
                lock.save()
        except IntegrityError:  # another request created the row between our read and write
            raise ConflictError(
                ERR_ITEM_LOCKED.format(name="Someone else", until="now"), code="item_locked"
            ) from None
    return lock


def item_lock_release(*, item: ProjectItem, user) -> bool:
    """Give the item back; only one's own lock is released (True when one was)."""
    deleted, _ = ItemLock.objects.filter(item=item, user=user).delete()
    return bool(deleted)


def queue_take(
    *,
    project: LabellingProject,
    user,
    purpose: str,
    current: ProjectItem | None = None,
    direction: str = "next",
    now=None,
) -> ProjectItem | None:
    """Lock and return the item ``user`` works on next, or None when the queue is empty.

    ``direction`` "next" (accept and next, skip, a fresh start: the first waiting item, own
    sent-back and unfinished work first), "forward" / "back" (F / D: the neighbour of
    ``current`` in import order). ``current`` is never returned and its lock is released.
    A candidate someone takes between the read and the lock is passed over.
    """
    now = now or timezone.now()
    _require_purpose_role(project, user, purpose)
    if current is not None:
        item_lock_release(item=current, user=user)
    if direction in ("forward", "back") and current is not None:
        if purpose == ItemLock.Purpose.QA:
            items = queue_selectors.qa_queue(project=project, user=user, now=now)
        else:
            items = queue_selectors.labelling_walk(project=project, user=user, now=now)
        for _ in range(20):  # a bounded number of races lost, then give up for this request
            found = queue_selectors.queue_neighbour(
                items=items, current=current, forward=direction == "forward"
            )
            if found is None:
                return None
            try:
                item_lock_take(item=found, user=user, purpose=purpose, now=now)
                return found
            except ConflictError:
                items = items.exclude(pk=found.pk)
        return None
    items = queue_selectors.queue_for(project=project, user=user, purpose=purpose, now=now)
    if current is not None:
        items = items.exclude(pk=current.pk)
    for found in queue_selectors.queue_first_order(items=items, user=user)[:20]:
        try:
            item_lock_take(item=found, user=user, purpose=purpose, now=now)
            return found
        except ConflictError:
            continue
    return None
