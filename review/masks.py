"""Validation of the masks adjusters send: COCO compressed RLE, checked before pycocotools.

pycocotools decodes whatever it is given: a ``counts`` string with stray characters, a
truncated run or runs that do not add up to the mask's size is read past its end or turned into
a different mask, silently. So the string is parsed here first, exactly as pycocotools'
``rleFrString`` reads it, and refused unless it is a well-formed mask of the expected size.
"""

import numpy as np

from ml.coco import mask_to_rle, rle_to_mask

# Each run is at most 7 chunks of 5 bits (35 bits): more than any mask grid needs.
_MAX_CHUNKS = 7


class MaskError(ValueError):
    """The payload is not a usable mask; the message says why, in words for the client."""


def rle_counts(counts: str) -> list[int]:
    """Run lengths of a compressed COCO RLE string (pycocotools' ``rleFrString``)."""
    runs: list[int] = []
    position, length = 0, len(counts)
    while position < length:
        value, chunk, more = 0, 0, True
        while more:
            if position >= length:
                raise MaskError("the counts string ends in the middle of a run")
            code = ord(counts[position]) - 48
            if not 0 <= code < 64:
                raise MaskError(f"character {counts[position]!r} cannot occur in COCO RLE counts")
            value |= (code & 0x1F) << (5 * chunk)
            more = bool(code & 0x20)
            position += 1
            chunk += 1
            if chunk > _MAX_CHUNKS:
                raise MaskError("a run in the counts string is impossibly long")
            if not more and code & 0x10:
                value |= -1 << (5 * chunk)
        if len(runs) > 2:
            value += runs[-2]
        if value < 0:
            raise MaskError("the counts string holds a negative run")
        runs.append(value)
    return runs


def decode_mask(rle, *, height: int, width: int) -> np.ndarray:
    """Bool mask (height x width) from a client's ``{"size": [h, w], "counts": str}``."""
    if (
        not isinstance(rle, dict)
        or set(rle) - {"size", "counts"}
        or not {"size", "counts"} <= set(rle)
    ):
        raise MaskError('the mask must be {"size": [height, width], "counts": "<COCO RLE>"}')
    size, counts = rle["size"], rle["counts"]
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in size)
    ):
        raise MaskError("size must be [height, width] in whole pixels")
    if size != [height, width]:
        raise MaskError(
            f"the mask is {size[0]}x{size[1]} but this photo's mask grid is {height}x{width}"
        )
    if not isinstance(counts, str) or not counts.isascii():
        raise MaskError(
            "counts must be a compressed COCO RLE string (ASCII), as pycocotools writes"
        )
    runs = rle_counts(counts)
    if sum(runs) != height * width:
        raise MaskError(f"the runs cover {sum(runs)} pixels but the mask grid has {height * width}")
    mask = rle_to_mask({"size": [height, width], "counts": counts})
    if mask.shape != (height, width):  # cannot happen after the checks above; never trust it
        raise MaskError("the mask decodes to the wrong shape")
    if not mask.any():
        raise MaskError("the mask is empty: delete the region instead")
    return mask


def canonical_rle(mask: np.ndarray) -> dict:
    """The mask re-encoded by pycocotools (what is stored and served)."""
    return mask_to_rle(mask)


def bbox(mask: np.ndarray) -> list[int]:
    """``[x, y, w, h]`` of a non-empty mask, in mask pixels."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    return [int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
