"""A photo upload that meets a database outage: a 503, no photo row and no stored file (original
or working copy), whether the database fails before the row is written or at COMMIT; the same
upload sent again then succeeds."""

import pytest
from django.db import OperationalError, connection

from claims.models import IdempotencyRecord, Photo
from claims.tests.factories import jpeg_bytes
from claims.tests.helpers import files_under, upload
from config.errors import DATABASE_RETRY_AFTER_S, ERR_DATABASE_UNAVAILABLE

TERMINATED = "terminating connection due to administrator command"


def _assert_503_and_nothing_kept(response, media_root) -> None:
    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response.json()["error"]["message"] == ERR_DATABASE_UNAVAILABLE.format(
        wait=DATABASE_RETRY_AFTER_S
    )
    assert response["Retry-After"] == str(DATABASE_RETRY_AFTER_S)
    assert Photo.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0
    assert files_under(media_root) == set()


@pytest.mark.django_db
@pytest.mark.parametrize("key", [None, "photo-outage-1"], ids=["plain", "idempotency-key"])
def test_photo_upload_api_database_lost_before_the_row_keeps_no_file(
    claim, customer_client, media_root, monkeypatch, key
):
    # given a database that goes away after the files were stored, when the row is inserted
    def insert_fails(*args, **kwargs):
        raise OperationalError(TERMINATED)

    monkeypatch.setattr(Photo, "save", insert_fails)
    content = jpeg_bytes(seed=41)

    # when the customer uploads a photo
    response = upload(customer_client, claim.pk, content, key=key)

    # then the answer is a 503 and neither the original nor the working copy is left
    _assert_503_and_nothing_kept(response, media_root)

    # and the same upload sent again is stored once the database is back
    monkeypatch.undo()
    again = upload(customer_client, claim.pk, content, key=key)
    assert again.status_code == 201, again.content
    assert Photo.objects.count() == 1
    assert len(files_under(media_root)) == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("key", [None, "photo-outage-2"], ids=["plain", "idempotency-key"])
def test_photo_upload_api_database_lost_at_commit_keeps_no_file(
    claim, customer_client, media_root, monkeypatch, key
):
    # given a database that dies at COMMIT, after the row was written (with an
    # Idempotency-Key that COMMIT is the key's transaction, around the photo's)
    real_commit = connection.commit
    failures: list[str] = []

    def commit_fails_once() -> None:
        if not failures:
            failures.append(TERMINATED)
            raise OperationalError(TERMINATED)
        real_commit()

    monkeypatch.setattr(connection, "commit", commit_fails_once)
    content = jpeg_bytes(seed=42)

    # when the customer uploads a photo
    response = upload(customer_client, claim.pk, content, key=key)

    # then nothing of it is kept, files included
    assert failures == [TERMINATED]
    _assert_503_and_nothing_kept(response, media_root)

    # and the retry is stored whole
    again = upload(customer_client, claim.pk, content, key=key)
    assert again.status_code == 201, again.content
    assert Photo.objects.count() == 1
    assert len(files_under(media_root)) == 2
