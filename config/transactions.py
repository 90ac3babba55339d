"""Transactions that also undo what they did outside the database (stored files).

A photo's files are written before its row, inside the row's transaction. If that transaction
does not commit (an error in the block, or the database dying at ``COMMIT``), the files must go
too, or storage fills with photos no row points at. ``transaction.on_commit`` has no rollback
twin, so ``atomic_or_undo`` keeps the undo actions itself.
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

logger = logging.getLogger(__name__)

_undo: ContextVar[list[Callable[[], None]] | None] = ContextVar("claimvision_undo", default=None)


@contextmanager
def atomic_or_undo() -> Iterator[None]:
    """``transaction.atomic()`` that runs the actions given to ``on_rollback`` inside it when it
    does not commit, a failed commit included.

    Nested, a block that succeeds hands its actions to the enclosing ``atomic_or_undo``: the
    outer transaction may still fail. Code that wraps this in a plain ``transaction.atomic()``
    must use ``atomic_or_undo`` instead, or a rollback there leaves the side effects behind.
    """
    parent = _undo.get()
    actions: list[Callable[[], None]] = []
    token = _undo.set(actions)
    try:
        with transaction.atomic():
            yield
    except BaseException:
        _run(actions)
        raise
    finally:
        _undo.reset(token)
    if parent is not None:
        parent.extend(actions)


def on_rollback(action: Callable[[], None]) -> None:
    """Undo ``action`` if the enclosing ``atomic_or_undo`` does not commit."""
    actions = _undo.get()
    if actions is None:
        raise RuntimeError("on_rollback() needs an enclosing atomic_or_undo()")
    actions.append(action)


def _run(actions: list[Callable[[], None]]) -> None:
    for action in reversed(actions):
        try:
            action()
        except Exception:  # one failed undo must not keep the others from running
            logger.exception("undo after a rolled-back transaction failed")
