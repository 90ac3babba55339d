"""The review effort model: seconds per action on a pre-labelled photo, and time saved against
labelling from scratch.

An adjuster's work on a photo is what the override ledger records (``review.models.
OverrideLedgerEntry.Action``): each model region accepted, reshaped, relabelled, given another
severity or part, or deleted, and each missed region added (drawn). The same person labelling
from scratch draws every region of the final labels. Both pay a look at each photo and one
decision per claim. Time saved is ``1 - assisted / scratch`` over the same claims.

Where each constant comes from (docs/learning-loop.md, "Effort model"):

- ``draw_s`` 6 s, ``accept_s`` 1 s, ``check_s`` 1 s: the seed's worked example (about 6 s to
  draw a label, 1 s to accept a correct pre-label, 1 s lost looking at each wrong one before
  correcting it). With 80 % of pre-labels right that saves about 60 %
  (:func:`seed_example`).
- ``adjust_s`` 3.3 s (a reshape, check included): from the BDD100K study (Yu et al., CVPR 2020,
  model-assisted labelling cut labelling time by about 60 % with the model right on only about
  40 % of items). With ``accept_s`` and ``draw_s`` above, ``0.4 * 1 + 0.6 * j = 0.4 * 6`` gives
  ``j = 3.33`` s for an item that had to be fixed rather than accepted: adjusting a close
  pre-label costs a little over half of drawing it.
- ``retype_s``, ``severity_s``, ``part_s`` 1.6 s each and ``delete_s`` 1.3 s, on top of the
  check: the keystroke-level model (Card, Moran and Newell, 1980: mental preparation 1.35 s,
  keystroke 0.28 s, point 1.1 s, button 0.2 s). A re-type is a thought and a key (1-9), a
  delete is a point at the region and a key.
- ``photo_s`` 1.35 s (one mental preparation per photo) and ``decide_s`` 5.1 s (the confirm
  step: two point-click-think cycles), keystroke-level model again.

Once the product has measured time on task (``review.models.ActiveTime``), the dashboard shows
the measured median beside these figures; :meth:`EffortModel.scaled` fits the model to it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace

# The ledger's action names (review.models.OverrideLedgerEntry.Action values); kept as strings
# so this module stays free of Django and the simulation and dashboard share one vocabulary.
ACCEPTED = "accepted"
RESHAPED = "reshaped"
RELABELLED = "relabelled"
SEVERITY_CHANGED = "severity_changed"
PART_CHANGED = "part_changed"
DELETED = "deleted"
ADDED = "added"
ACTIONS = (ACCEPTED, RESHAPED, RELABELLED, SEVERITY_CHANGED, PART_CHANGED, DELETED, ADDED)


@dataclass(frozen=True)
class EffortModel:
    """Seconds per action; see the module docstring for the source of every figure."""

    draw_s: float = 6.0
    accept_s: float = 1.0
    check_s: float = 1.0
    adjust_s: float = 3.3
    retype_s: float = 1.6
    severity_s: float = 1.6
    part_s: float = 1.6
    delete_s: float = 1.3
    photo_s: float = 1.35
    decide_s: float = 5.1

    def action_seconds(self, action: str) -> float:
        """The cost of one ledger entry. A region reshaped and relabelled in one save has two
        entries: the reshape pays the check, the relabel only its key."""
        if action == ACCEPTED:
            return self.accept_s
        if action == RESHAPED:
            return self.adjust_s
        if action == RELABELLED:
            return self.retype_s
        if action == SEVERITY_CHANGED:
            return self.severity_s
        if action == PART_CHANGED:
            return self.part_s
        if action == DELETED:
            return self.check_s + self.delete_s
        if action == ADDED:
            return self.draw_s
        raise ValueError(f"unknown review action {action!r}")

    def assisted_seconds(self, work: PhotoWork) -> float:
        """A pre-labelled photo: a look, then every ledger entry. A region only re-typed (or
        given another severity or part) was wrong, so it pays the check once too."""
        seconds = self.photo_s + sum(
            self.action_seconds(action) * n for action, n in work.actions.items()
        )
        return seconds + self.check_s * work.fixed_in_place

    def scratch_seconds(self, work: PhotoWork) -> float:
        """The same photo labelled from scratch: a look and every final region drawn."""
        return self.photo_s + self.draw_s * work.final_regions

    def scaled(self, factor: float) -> EffortModel:
        """Every figure times ``factor`` (fitted to measured time on task)."""
        if factor <= 0:
            raise ValueError("factor must be positive")
        return replace(self, **{k: v * factor for k, v in asdict(self).items()})


DEFAULT_EFFORT = EffortModel()


@dataclass(frozen=True)
class PhotoWork:
    """What one review did to one photo: ledger action counts, how many model regions were
    only re-typed / re-graded (no reshape: they pay the check once), and the final regions."""

    actions: Mapping[str, int]
    final_regions: int
    fixed_in_place: int = 0

    @classmethod
    def from_ledger(cls, entries: Iterable[Mapping], final_regions: int) -> PhotoWork:
        """From one save's ledger entries (dicts with ``action`` and ``source_index``)."""
        entries = list(entries)
        counts = Counter(e["action"] for e in entries)
        unknown = set(counts) - set(ACTIONS)
        if unknown:
            raise ValueError(f"unknown review actions {sorted(unknown)}")
        by_source: dict[int, set[str]] = {}
        for e in entries:
            if e.get("source_index") is not None:
                by_source.setdefault(e["source_index"], set()).add(e["action"])
        in_place = {RELABELLED, SEVERITY_CHANGED, PART_CHANGED}
        fixed = sum(1 for acts in by_source.values() if acts & in_place and RESHAPED not in acts)
        return cls(actions=dict(counts), final_regions=final_regions, fixed_in_place=fixed)


@dataclass(frozen=True)
class Effort:
    """Seconds with pre-labels and from scratch over a set of reviewed photos and claims."""

    assisted_s: float
    scratch_s: float
    photos: int
    claims: int

    @property
    def saved(self) -> float | None:
        """``1 - assisted / scratch``; None when there was nothing to label."""
        return time_saved(self.assisted_s, self.scratch_s)

    def __add__(self, other: Effort) -> Effort:
        return Effort(
            self.assisted_s + other.assisted_s,
            self.scratch_s + other.scratch_s,
            self.photos + other.photos,
            self.claims + other.claims,
        )


def claim_effort(photos: Iterable[PhotoWork], model: EffortModel = DEFAULT_EFFORT) -> Effort:
    """One reviewed claim: its photos and one decision, both ways."""
    photos = list(photos)
    assisted = sum(model.assisted_seconds(p) for p in photos) + model.decide_s
    scratch = sum(model.scratch_seconds(p) for p in photos) + model.decide_s
    return Effort(assisted_s=assisted, scratch_s=scratch, photos=len(photos), claims=1)


def time_saved(assisted_s: float, scratch_s: float) -> float | None:
    if scratch_s < 0 or assisted_s < 0:
        raise ValueError("seconds cannot be negative")
    if scratch_s == 0:
        return None
    return 1.0 - assisted_s / scratch_s


def seed_example(
    correct: float = 0.8, draw_s: float = 6.0, accept_s: float = 1.0, lost_s: float = 1.0
) -> float:
    """The seed's per-label arithmetic: a correct pre-label is accepted (``accept_s``), a wrong
    one costs the look (``lost_s``) and a drawing (``draw_s``); against drawing every label.
    ``seed_example()`` is 0.633: "about 60 % saved"."""
    if not 0.0 <= correct <= 1.0:
        raise ValueError("correct is a share")
    assisted = correct * accept_s + (1.0 - correct) * (lost_s + draw_s)
    return 1.0 - assisted / draw_s
