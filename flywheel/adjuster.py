"""The simulated adjuster: corrects a claim's model regions to the ground truth through the same
review services the screen calls, then decides.

Per photo it pairs model regions with ground-truth regions (greedy, highest mask IoU first, at
least ``MATCH_IOU``). A pair whose IoU reaches ``ACCEPT_IOU`` with the same type and severity
is let through unchanged (a person accepts a close-enough outline: the ledger says
``accepted``); any other pair is reshaped to the ground truth and re-typed or re-graded where
they differ (``reshaped`` / ``relabelled`` / ``severity_changed``; a different part under the
new outline is ``part_changed``). A model region left unpaired is deleted, a ground-truth region
left unpaired is drawn (``added``). What it did is then read back from the ledger the service
stored, and priced by the effort model (``flywheel.effort``); that time is reported with the
save and the decision as the screen reports active time.

Decision: no ground-truth damage on any photo: deny ("no damage visible"); every region
accepted and nothing added or deleted: approve as assessed; otherwise approve with
corrections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flywheel.claim_data import ClaimPhoto, truth_regions
from flywheel.effort import DEFAULT_EFFORT, Effort, EffortModel, PhotoWork, claim_effort

MATCH_IOU = 0.1  # below this a model region and a true one are not the same damage
ACCEPT_IOU = 0.7  # a close-enough outline a person lets through (documented choice)
DENY_REASON = "No damage visible on the photos."


@dataclass(frozen=True)
class ReviewResult:
    effort: Effort
    action: str
    photos: list[PhotoWork]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def corrected_regions(predicted: list[dict], truth: list) -> list[dict]:
    """The regions an adjuster saves for one photo: ``predicted`` are the model's regions
    (``index``, ``label``, ``severity``, ``mask`` (bool array), ``mask_rle``), ``truth`` the
    ``claim_data.TruthRegion`` list on the same grid."""
    from ml.coco import mask_to_rle

    pairs = sorted(
        (
            (_iou(p["mask"], t.mask), pi, ti)
            for pi, p in enumerate(predicted)
            for ti, t in enumerate(truth)
        ),
        reverse=True,
    )
    used_p, used_t, matched = set(), set(), {}
    for iou, pi, ti in pairs:
        if iou < MATCH_IOU:
            break
        if pi in used_p or ti in used_t:
            continue
        used_p.add(pi)
        used_t.add(ti)
        matched[ti] = (pi, iou)
    out = []
    for ti, t in enumerate(truth):
        if ti not in matched:
            out.append(
                {
                    "label": t.label,
                    "severity": t.severity,
                    "source_index": None,
                    "part": t.part,
                    "mask_rle": mask_to_rle(t.mask),
                }
            )
            continue
        pi, iou = matched[ti]
        p = predicted[pi]
        if iou >= ACCEPT_IOU and p["label"] == t.label and p["severity"] == t.severity:
            out.append(
                {
                    "label": p["label"],
                    "severity": p["severity"],
                    "source_index": p["index"],
                    "mask_rle": p["mask_rle"],
                }
            )
        else:
            out.append(
                {
                    "label": t.label,
                    "severity": t.severity,
                    "source_index": p["index"],
                    "part": t.part,
                    "mask_rle": mask_to_rle(t.mask),
                }
            )
    return out


def _predicted(assessment) -> list[dict]:
    from review import masks

    return [
        {
            "index": r.index,
            "label": r.label,
            "severity": r.severity,
            "mask_rle": r.mask_rle,
            "mask": masks.rle_to_mask(r.mask_rle).astype(bool),
        }
        for r in assessment.regions.all()
    ]


def stored_work(labels) -> PhotoWork:
    """What the review of one photo did, read back from the ledger of its current labels
    (``review.models.PhotoLabels``): the figures the simulation reports come from here."""
    from review.models import OverrideLedgerEntry

    entries = OverrideLedgerEntry.objects.filter(
        photo_id=labels.photo_id, labels_version=labels.version
    ).values("action", "source_index")
    return PhotoWork.from_ledger(entries, final_regions=labels.regions.count())


class SimulatedAdjuster:
    def __init__(self, user, effort: EffortModel = DEFAULT_EFFORT) -> None:
        self.user = user
        self.effort = effort

    def review(self, claim, photos: dict, segmenter, truths: dict | None = None) -> ReviewResult:
        """Correct and decide ``claim`` (in review). ``photos``: photo id -> ClaimPhoto;
        ``truths``: photo id -> its ``TruthRegion`` list, where already computed."""
        from review import labels as review_labels
        from review import locks, services

        locks.review_lock_take(claim=claim, adjuster=self.user)
        works: list[PhotoWork] = []
        any_damage = False
        for photo in claim.photos.order_by("created_at", "pk"):
            truth_photo: ClaimPhoto | None = photos.get(str(photo.pk))
            assessment = review_labels.photo_assessment_shown(claim=claim, photo=photo)
            if truth_photo is None or assessment is None:
                continue
            truth = (truths or {}).get(str(photo.pk))
            if truth is None:
                truth = truth_regions(segmenter, truth_photo)
            any_damage = any_damage or bool(truth)
            regions = corrected_regions(_predicted(assessment), truth)
            # Priced before the save from the comparison the save will store, so the save
            # carries its active time as the screen's would; the figures reported are then
            # read back from the ledger the service stored.
            preview = review_labels.photo_labels_preview(claim=claim, photo=photo, regions=regions)
            planned = PhotoWork.from_ledger(
                [{"action": a, "source_index": f.get("source_index")} for a, f in preview],
                final_regions=len(regions),
            )
            labels, _ = review_labels.photo_labels_save(
                claim=claim,
                photo=photo,
                adjuster=self.user,
                base_version=0,
                regions=regions,
                active_ms=int(self.effort.assisted_seconds(planned) * 1000),
            )
            works.append(stored_work(labels))
        effort = claim_effort(works, self.effort)
        changed = any(
            set(w.actions) - {"accepted"} or w.actions.get("accepted", 0) != w.final_regions
            for w in works
        )
        if not any_damage:
            action, reason = "deny", DENY_REASON
        elif changed:
            action, reason = "approve_with_corrections", "Corrected to the photos."
        else:
            action, reason = "approve", ""
        services.review_decide(
            claim=claim,
            adjuster=self.user,
            action=action,
            reason=reason,
            active_ms=int(effort.assisted_s * 1000),
        )
        return ReviewResult(effort=effort, action=action, photos=works)
