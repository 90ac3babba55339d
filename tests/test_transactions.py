"""config.transactions: undo actions run exactly when the transaction does not commit."""

import pytest
from django.db import OperationalError, connection

from config.transactions import atomic_or_undo, on_rollback


class Boom(Exception):
    pass


@pytest.mark.django_db
def test_atomic_or_undo_keeps_the_side_effect_when_the_block_succeeds():
    undone: list[str] = []

    with atomic_or_undo():
        on_rollback(lambda: undone.append("file"))

    assert undone == []


@pytest.mark.django_db
def test_atomic_or_undo_undoes_in_reverse_order_when_the_block_raises():
    undone: list[str] = []

    with pytest.raises(Boom), atomic_or_undo():
        on_rollback(lambda: undone.append("original"))
        on_rollback(lambda: undone.append("working"))
        raise Boom

    assert undone == ["working", "original"]


@pytest.mark.django_db
def test_atomic_or_undo_nested_block_is_undone_when_the_outer_one_fails():
    undone: list[str] = []

    with pytest.raises(Boom), atomic_or_undo():
        with atomic_or_undo():
            on_rollback(lambda: undone.append("inner"))
        raise Boom

    assert undone == ["inner"]


@pytest.mark.django_db
def test_atomic_or_undo_failed_nested_block_undoes_only_its_own_actions():
    undone: list[str] = []

    with atomic_or_undo():
        on_rollback(lambda: undone.append("outer"))
        with pytest.raises(Boom), atomic_or_undo():
            on_rollback(lambda: undone.append("inner"))
            raise Boom

    assert undone == ["inner"]


@pytest.mark.django_db
def test_atomic_or_undo_runs_every_undo_even_when_one_fails():
    undone: list[str] = []

    def broken() -> None:
        raise OSError("storage is read-only")

    with pytest.raises(Boom), atomic_or_undo():
        on_rollback(lambda: undone.append("first"))
        on_rollback(broken)
        raise Boom

    assert undone == ["first"]


@pytest.mark.django_db(transaction=True)
def test_atomic_or_undo_undoes_when_the_commit_fails(monkeypatch):
    # given a database that dies at COMMIT
    undone: list[str] = []

    def commit_fails() -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(connection, "commit", commit_fails)

    # when the block itself succeeded
    with pytest.raises(OperationalError), atomic_or_undo():
        on_rollback(lambda: undone.append("file"))

    # then its side effects are undone all the same
    assert undone == ["file"]


def test_on_rollback_outside_atomic_or_undo_is_refused():
    with pytest.raises(RuntimeError):
        on_rollback(lambda: None)
