"""Train / evaluation split of reviewed photos, fixed for ever by a hash of the claim id.

Every photo of a claim lands on the same side (photos of one car look alike, so a split by
photo would leak the evaluation set into training). The hash is SHA-256 of the claim id's
canonical string (``str(uuid)``): stable across processes, machines and Python versions (unlike
``hash()``), and independent of when a claim was reviewed, so a photo never changes side and the
frozen evaluation set only grows. Exports and retraining both call :func:`split_for_claim`.
"""

import hashlib

TRAIN = "train"
EVAL = "eval"
# Share of claims held out for evaluation. Changing it moves claims between sides: never change
# it on a live installation (the evaluation set would leak into training).
EVAL_SHARE = 0.20
_BUCKETS = 10_000


def split_for_claim(claim_id) -> str:
    """``'eval'`` for about 20% of claims, ``'train'`` for the rest; deterministic per claim."""
    digest = hashlib.sha256(str(claim_id).encode("utf-8")).digest()
    bucket = int.from_bytes(digest[:8], "big") % _BUCKETS
    return EVAL if bucket < EVAL_SHARE * _BUCKETS else TRAIN


def split_for_item(item_id) -> str:
    """The side of a labelling project's item (``labelling.ProjectItem``), by the same hash of
    its id: an item is its own group (an archive's photos carry no claim to group them by), and
    ``labelling:`` in front keeps item and claim ids from ever sharing a bucket by accident."""
    return split_for_claim(f"labelling:{item_id}")
