"""Measured time saved by pre-labels: per project, the active time of items labelled from
scratch (``show_prelabels`` False, drawn at random at import) against items labelled with the
model's regions shown, with a 95 % confidence interval, per class and overall; beside it, how
much of what the model proposed the labellers kept unchanged.

Method (docs/labelling.md, "Time saved"):

- An item counts once it was submitted (labelled, in QA or accepted) with recorded active time
  (``ProjectItem.time_on_task_ms``: every save's idle-free active time, rework after a send-back
  included). Imported labels have no time and do not count. Items are grouped by what they
  were drawn to show (intention to treat): a pre-labelled item whose prediction happened to be
  empty still counts as "with pre-labels", since that is what the product delivers.
- time saved = 1 - mean(with) / mean(scratch): a ratio of means, so it is the share of total
  labelling time saved (what a data team pays for); medians are shown beside it.
- 95 % interval by the delta method on the log of the ratio, the two groups independent:
  var(log R) = s_w^2 / (n_w m_w^2) + s_s^2 / (n_s m_s^2) (sample variances), so
  R in R * exp(+-1.96 se) and the saving in [1 - R e^(z se), 1 - R e^(-z se)]. Closed form,
  reproducible without a random seed, and never a negative ratio. It needs two items in each
  group; with few items it is optimistic, so the counts are shown with it.
- Per class: an item belongs to its dominant labelled class (largest total area in its current
  labels; "no damage" when it has none).
- Pre-labels kept: of the regions the model showed the labeller (their last save with a
  prediction), the share saved with origin "accepted" (same type and severity, IoU >= review's
  ACCEPT_IOU); and the share of pre-labelled items submitted exactly as proposed.
"""

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from labelling.models import ItemLabelsSave, LabellingProject, ProjectItem

S = ProjectItem.Status

# What "submitted" means for the measurement: the labeller finished the item.
SUBMITTED_STATUSES = [S.LABELLED, S.IN_QA, S.ACCEPTED]
Z95 = 1.959963984540054  # two-sided 95 % normal quantile
NO_DAMAGE = ""  # the class key of items labelled without any region


@dataclass(frozen=True)
class ItemTiming:
    item_id: str
    show_prelabels: bool
    active_ms: int
    dominant_class: str
    regions_shown: int = 0  # pre-label regions the labeller was shown
    regions_accepted: int = 0  # of those, saved unchanged
    unchanged: bool = False  # submitted exactly as the model proposed


@dataclass(frozen=True)
class GroupTimes:
    n: int
    mean_ms: float | None
    median_ms: float | None


@dataclass(frozen=True)
class TimeSaved:
    label: str  # a class name, NO_DAMAGE, or "all"
    scratch: GroupTimes
    prelabelled: GroupTimes
    saved: float | None  # 1 - mean(with) / mean(scratch)
    low: float | None  # 95 % interval of ``saved``
    high: float | None
    regions_shown: int
    regions_accepted: int
    items_unchanged: int

    @property
    def accepted_share(self) -> float | None:
        return self.regions_accepted / self.regions_shown if self.regions_shown else None

    @property
    def unchanged_share(self) -> float | None:
        n = self.prelabelled.n
        return self.items_unchanged / n if n else None


def group_times(values: Sequence[float]) -> GroupTimes:
    if not values:
        return GroupTimes(0, None, None)
    return GroupTimes(len(values), statistics.fmean(values), statistics.median(values))


def ratio_interval(
    with_prelabels: Sequence[float], scratch: Sequence[float], z: float = Z95
) -> tuple[float | None, float | None, float | None]:
    """(saved, low, high) for 1 - mean(with) / mean(scratch); the interval by the delta method
    on log(mean(with) / mean(scratch)). None where the data cannot give it (no item in a group,
    a zero mean; the interval also needs two items per group)."""
    if not with_prelabels or not scratch:
        return None, None, None
    m_w, m_s = statistics.fmean(with_prelabels), statistics.fmean(scratch)
    if m_s <= 0 or m_w <= 0:
        return None, None, None
    ratio = m_w / m_s
    saved = 1.0 - ratio
    if len(with_prelabels) < 2 or len(scratch) < 2:
        return saved, None, None
    var_log = statistics.variance(with_prelabels) / (len(with_prelabels) * m_w**2) + (
        statistics.variance(scratch) / (len(scratch) * m_s**2)
    )
    se = math.sqrt(var_log)
    return saved, 1.0 - ratio * math.exp(z * se), 1.0 - ratio * math.exp(-z * se)


def dominant_class(regions: list[dict]) -> str:
    """The label with the largest total area (ties: the first name in order)."""
    areas: dict[str, int] = defaultdict(int)
    for region in regions:
        areas[region["label"]] += int(region.get("area") or 0)
    if not areas:
        return NO_DAMAGE
    return min(areas, key=lambda label: (-areas[label], label))


def item_timings(*, project: LabellingProject) -> list[ItemTiming]:
    """The measured items of ``project`` (see the module's method)."""
    items = (
        ProjectItem.objects.filter(
            project=project, status__in=SUBMITTED_STATUSES, time_on_task_ms__gt=0
        )
        .exclude(labels__source="imported")
        .select_related("labels")
        .order_by("created_at", "id")
    )
    items = list(items)
    shown_saves: dict = {}
    saves = (
        ItemLabelsSave.objects.filter(item__in=items, prediction__isnull=False)
        .select_related("prediction")
        .order_by("item_id", "version")
    )
    for save in saves:  # the last one per item wins
        shown_saves[save.item_id] = save
    timings = []
    for item in items:
        labels = getattr(item, "labels", None)
        regions = labels.regions if labels is not None else []
        save = shown_saves.get(item.pk) if item.show_prelabels else None
        shown = len(save.prediction.regions) if save is not None else 0
        accepted = sum(r.get("origin") == "accepted" for r in save.regions) if save else 0
        timings.append(
            ItemTiming(
                item_id=str(item.pk),
                show_prelabels=item.show_prelabels,
                active_ms=int(item.time_on_task_ms),
                dominant_class=dominant_class(regions),
                regions_shown=shown,
                regions_accepted=accepted,
                unchanged=save is not None and accepted == shown == len(save.regions),
            )
        )
    return timings


def time_saved_of(label: str, timings: Sequence[ItemTiming]) -> TimeSaved:
    scratch = [t.active_ms for t in timings if not t.show_prelabels]
    shown = [t for t in timings if t.show_prelabels]
    with_prelabels = [t.active_ms for t in shown]
    saved, low, high = ratio_interval(with_prelabels, scratch)
    return TimeSaved(
        label=label,
        scratch=group_times(scratch),
        prelabelled=group_times(with_prelabels),
        saved=saved,
        low=low,
        high=high,
        regions_shown=sum(t.regions_shown for t in shown),
        regions_accepted=sum(t.regions_accepted for t in shown),
        items_unchanged=sum(t.unchanged for t in shown),
    )


def time_saved_report(
    *, project: LabellingProject, timings: Sequence[ItemTiming] | None = None
) -> dict:
    """Overall and per-class time saved for ``project`` (classes by how many items they
    hold, most first)."""
    timings = item_timings(project=project) if timings is None else list(timings)
    by_class: dict[str, list[ItemTiming]] = defaultdict(list)
    for timing in timings:
        by_class[timing.dominant_class].append(timing)
    per_class = [
        time_saved_of(label, rows)
        for label, rows in sorted(by_class.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    return {"overall": time_saved_of("all", timings), "per_class": per_class}
