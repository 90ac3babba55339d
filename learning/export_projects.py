"""Label exports of a labelling project (``ExportQuery.project``): the project's items instead of
claims' photos, through the same writer (``ml.label_export``) and the same query filters.

What is exported per item: its current labels (``labelling.ItemLabels``), whatever its status,
with the status in the image's metadata, so a data team can re-import the file elsewhere and
back (``labelling.label_import`` matches ``<item id>.<ext>``); with ``include_predictions``
also items that only have the model's pre-labels. Masks live on the item's grid and are
exported at the working copy's resolution (nearest neighbour), as claims' are. Items come in
item id order, so the same query over the same data gives the same bytes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from datetime import timedelta

from labelling.models import ItemPrediction, ProjectItem
from learning.exports import ExportQuery, _day_start, _region_mask, _Skipped, export_since_cutoff
from learning.splits import split_for_item
from ml import label_export
from ml.labels import LabelMap


def _labeller(user_id: int | None) -> str | None:
    """A stable pseudonym, as for adjusters (``learning.exports._reviewer``)."""
    return None if user_id is None else f"labeller-{user_id}"


def _has_type(regions: list[dict], damage_types: Sequence[str]) -> bool:
    return any(r.get("label") in damage_types for r in regions)


def _prediction(item: ProjectItem, query: ExportQuery) -> ItemPrediction | None:
    """The filtered model version's prediction, else the newest."""
    predictions = item.predictions.select_related("model_version").order_by("-created_at", "-id")
    if query.model_version:
        predictions = predictions.filter(model_version__version=query.model_version)
    return predictions.first()


def project_candidates(*, query: ExportQuery) -> list[ProjectItem]:
    """The project's items for ``query``: labelled ones (by when the labels were last saved),
    plus, with ``include_predictions``, pre-labelled ones nobody labelled yet."""
    cutoff = export_since_cutoff(query=query)
    start = _day_start(query.date_from) if query.date_from else None
    end = _day_start(query.date_to + timedelta(days=1)) if query.date_to else None
    items = (
        ProjectItem.objects.filter(project_id=query.project)
        .select_related("labels", "project")
        .order_by("id")
    )
    if not query.include_predictions:
        items = items.filter(labels__isnull=False)
    found = []
    for item in items:
        labels = getattr(item, "labels", None)
        if labels is not None:
            when = labels.saved_at
        else:
            prediction = _prediction(item, query)
            if prediction is None:
                continue
            when = prediction.created_at
        if cutoff is not None and when <= cutoff:
            continue
        if (start is not None and when < start) or (end is not None and when >= end):
            continue
        if query.split and split_for_item(item.pk) != query.split:
            continue
        if query.damage_types:
            regions = labels.regions if labels is not None else _prediction(item, query).regions
            if not _has_type(regions, query.damage_types):
                continue
        found.append(item)
    return found


def project_images_iter(
    *,
    items: Sequence[ProjectItem],
    query: ExportQuery,
    label_map: LabelMap,
    skipped: _Skipped,
) -> Iterator[label_export.ExportImage]:
    """Plain records for the writer, one item at a time."""
    known = set(label_map.names[1:])

    def keep(label: str) -> bool:
        if label in known:
            return True
        skipped.regions += 1
        skipped.labels.add(label)
        return False

    for item in items:
        storage, name = item.working.storage, item.working.name
        if not name or not storage.exists(name):
            skipped.photos += 1  # one lost photo never fails the whole export
            continue
        width, height = item.working_width, item.working_height
        prediction = _prediction(item, query)
        mv = prediction.model_version.version if prediction is not None else None
        predicted = prediction.regions if prediction is not None else []
        predictions = [
            label_export.ExportRegion(
                index=r["index"],
                label=r["label"],
                mask=_region_mask(r["mask_rle"], height, width),
                severity=r["severity"],
                source="model",
                score=r["score"],
                model_version=mv,
                part=r.get("part") or None,
            )
            for r in predicted
            if keep(r["label"])
        ]
        labels = getattr(item, "labels", None)
        shown = labels.prediction.regions if labels is not None and labels.prediction else []
        score_of = {r["index"]: r["score"] for r in shown}
        human = []
        if labels is not None:
            human = [
                label_export.ExportRegion(
                    index=r["index"],
                    label=r["label"],
                    mask=_region_mask(r["mask_rle"], height, width),
                    severity=r["severity"],
                    source="accepted" if r["origin"] == "accepted" else "human",
                    score=score_of.get(r["source_index"]) if r["origin"] == "accepted" else None,
                    model_version=mv,
                    reviewer=_labeller(labels.labeller_id),
                    source_index=r["source_index"],
                    part=r.get("part") or None,
                )
                for r in labels.regions
                if keep(r["label"])
            ]
        yield label_export.ExportImage(
            key=str(item.pk),
            split=split_for_item(item.pk),
            width=width,
            height=height,
            image=functools.partial(storage.open, name, "rb"),
            image_ext="jpg",
            labels=human if labels is not None else predictions,
            predictions=predictions,
            reviewed=labels is not None,
            photo_score=prediction.photo_confidence if prediction is not None else None,
            meta={
                "item_id": str(item.pk),
                "project_id": item.project_id,
                "original_name": item.original_name,
                "status": item.status,
                "labels_version": labels.version if labels is not None else None,
                "labels_source": labels.source if labels is not None else None,
                "model_version": mv,
            },
        )
