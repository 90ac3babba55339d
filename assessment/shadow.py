"""Shadow readings: a version in ``shadow`` status reads every live claim's photos beside the
active model and decides nothing. Its readings are what the learning stage compares before a
promotion; running it is this stage's, as it serves every version the registry holds."""

from __future__ import annotations

import logging

from assessment import model_versions
from assessment.models import ModelVersion, PhotoAssessment
from claims.models import Photo
from config import metrics
from config.queue import send_on_commit
from config.storage import storage_read_bytes

logger = logging.getLogger(__name__)


def model_version_shadow() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersion.Status.SHADOW).first()


def shadow_assessment_enqueue(*, claim) -> list[str]:
    """Queue the shadow model's reading of the claim's photos (after commit), if one exists.

    Separate tasks, sent after the active model's: the decision never waits for the shadow.
    """
    from assessment.tasks import shadow_assess_task

    shadow = model_version_shadow()
    if shadow is None:
        return []
    pending = [
        str(pk)
        for pk in claim.photos.exclude(assessments__model_version=shadow).values_list(
            "pk", flat=True
        )
    ]
    for photo_id in pending:
        send_on_commit(shadow_assess_task, photo_id, shadow.version)
    return pending


_shadow_segmenters = model_versions._SegmenterCache()


def shadow_photo_assess(*, photo_id, version: str) -> PhotoAssessment | None:
    """Store the shadow model's reading of one photo. Touches no claim, decision or audit."""
    model_version = ModelVersion.objects.filter(version=version).first()
    if model_version is None or model_version.status != ModelVersion.Status.SHADOW:
        return None  # promoted, demoted or deleted since the task was sent
    photo = Photo.objects.filter(pk=photo_id).first()
    if photo is None:
        return None
    existing = PhotoAssessment.objects.filter(photo=photo, model_version=model_version).first()
    if existing is not None:
        return existing
    data = storage_read_bytes(photo.working.storage, photo.working.name)
    from assessment.severity import severity_apply

    try:
        segmenter = _shadow_segmenters.get(model_version)
        with metrics.inference_timer(model_version=model_version.version):
            raw = segmenter.predict(data)
        prediction = severity_apply(segmenter, raw.to_dict())
    except ValueError as exc:  # undecodable photo: the active model's task records it
        logger.warning("shadow %s skipped photo %s: %s", version, photo_id, exc)
        return None
    return _assessment_store(photo, model_version, prediction)


def _assessment_store(photo: Photo, model_version: ModelVersion, prediction: dict):
    from assessment.services import photo_assessment_store

    return photo_assessment_store(photo=photo, model_version=model_version, prediction=prediction)
