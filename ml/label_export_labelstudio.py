"""Label Studio for ``ml.label_export``: tasks with the model's predictions and, for reviewed
photos, the adjuster's annotation, brush masks in Label Studio's own RLE, and the labelling
config that matches them."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np

from ml.label_export_core import (
    ExportImage,
    ExportRegion,
    _Members,
)
from ml.labels import DEFAULT_PART_MAP, LabelMap

# Label Studio's own words for where an annotation's region came from.
LS_ORIGINS = {"model": "prediction", "accepted": "prediction", "human": "prediction-changed"}

# Label Studio brush RLE parameters, as label-studio-converter's ``encode_rle`` writes them.
LS_WORD_SIZE = 8
LS_RLE_SIZES = (3, 4, 8, 16)
LS_FROM_NAME = "damage"
LS_SEVERITY_FROM_NAME = "severity"
LS_PART_FROM_NAME = "part"
LS_TO_NAME = "image"

ERR_LS_RLE = "not a Label Studio brush RLE"


def ls_encode_rle(values: np.ndarray) -> list[int]:
    """Label Studio's brush RLE of a flat uint8 array (label-studio-converter ``encode_rle``).

    Header: 32-bit value count, 5-bit word size - 1, four 4-bit run-length field sizes - 1.
    Then per run: a 1-bit series flag, a 2-bit index into the run-length sizes, the run length
    - 1 and the 8-bit value; a lone value is written as a non-series of length 1. The bit
    string is padded with zeros to whole bytes (always at least one zero, as the reference
    implementation does).
    """
    arr = np.asarray(values, dtype=np.uint8).ravel()
    parts = [
        f"{len(arr):032b}",
        f"{LS_WORD_SIZE - 1:05b}",
        "".join(f"{s - 1:04b}" for s in LS_RLE_SIZES),
    ]
    if len(arr):
        change = np.flatnonzero(arr[1:] != arr[:-1]) + 1
        starts = np.concatenate(([0], change))
        lengths = np.diff(np.concatenate((starts, [len(arr)])))
        for start, length in zip(starts.tolist(), lengths.tolist(), strict=True):
            value = f"{int(arr[start]):08b}"
            if length == 1:
                parts.append("0" + "00" + "000" + value)
                continue
            while length > 2**16:
                parts.append("1" + "11" + f"{2**16 - 1:016b}" + value)
                length -= 2**16
            for code, size in enumerate(LS_RLE_SIZES):
                if length <= 2**size:
                    parts.append("1" + f"{code:02b}" + f"{length - 1:0{size}b}" + value)
                    break
    bits = "".join(parts)
    bits += "0" * (8 - len(bits) % 8)
    return list(int(bits, 2).to_bytes(len(bits) // 8, "big"))


def ls_decode_rle(rle: Sequence[int]) -> np.ndarray:
    """Flat uint8 array from Label Studio's brush RLE (inverse of :func:`ls_encode_rle`)."""
    bits = "".join(f"{b:08b}" for b in rle)
    pos = 0

    def read(n: int) -> int:
        nonlocal pos
        if pos + n > len(bits):
            raise ValueError(ERR_LS_RLE)
        value = int(bits[pos : pos + n], 2) if n else 0
        pos += n
        return value

    num = read(32)
    word = read(5) + 1
    sizes = [read(4) + 1 for _ in range(4)]
    out = np.zeros(num, dtype=np.uint8)
    i = 0
    while i < num:
        series = read(1)
        j = i + 1 + read(sizes[read(2)])
        if series:
            out[i:j] = read(word)
            i = j
        else:
            while i < j:
                out[i] = read(word)
                i += 1
    return out


def ls_mask_to_rle(mask: np.ndarray) -> list[int]:
    """A brush mask as Label Studio stores it: RGBA, every channel 255 inside (``mask2rle``)."""
    values = np.asarray(mask, dtype=bool).astype(np.uint8) * 255
    return ls_encode_rle(np.repeat(values.ravel(), 4))


def ls_rle_to_mask(rle: Sequence[int], height: int, width: int) -> np.ndarray:
    """Bool mask from a brush RLE: the alpha channel, as Label Studio draws it."""
    flat = ls_decode_rle(rle)
    return flat.reshape(height, width, 4)[:, :, 3] > 0


def ls_part_names(seen: Sequence[str] = ()) -> list[str]:
    """The parts the config offers: the bundled part map in its order, then any other part an
    exported region carries (a model with a part map of its own), sorted, so every exported
    choice is one the config offers and the same regions give the same config."""
    names = list(DEFAULT_PART_MAP.names)
    return names + sorted(set(seen) - set(names))


def _ls_html(text: str) -> str:
    """``html="..."`` for a display name: Label Studio shows the attribute as HTML in place of
    ``value`` (which stays the exported result), so the name is HTML-escaped text, then quoted
    for XML."""
    return quoteattr(escape(text, quote=False))


def label_studio_config(label_map: LabelMap, parts: Sequence[str] | None = None) -> str:
    """A labelling config matching the exported tasks (brush labels, severity and car part per
    region). ``parts``: the part choices, by default :func:`ls_part_names`. Labels and part
    choices keep the code as ``value`` and show the display name (``html``)."""
    labels = "\n".join(
        f"    <Label value={quoteattr(c.name)} html={_ls_html(c.display_name)}"
        f" background={quoteattr(c.colour)}/>"
        for c in sorted(label_map.classes, key=lambda c: c.id)
    )
    part_choices = "\n".join(
        f"    <Choice value={quoteattr(p)} html={_ls_html(DEFAULT_PART_MAP.display(p))}/>"
        for p in (ls_part_names() if parts is None else parts)
    )
    return (
        "<View>\n"
        f'  <Image name="{LS_TO_NAME}" value="$image" zoom="true"/>\n'
        f'  <BrushLabels name="{LS_FROM_NAME}" toName="{LS_TO_NAME}">\n'
        f"{labels}\n"
        "  </BrushLabels>\n"
        f'  <Choices name="{LS_SEVERITY_FROM_NAME}" toName="{LS_TO_NAME}" perRegion="true">\n'
        '    <Choice value="minor"/>\n    <Choice value="moderate"/>\n'
        '    <Choice value="severe"/>\n'
        "  </Choices>\n"
        f'  <Choices name="{LS_PART_FROM_NAME}" toName="{LS_TO_NAME}" perRegion="true">\n'
        f"{part_choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )


class _LabelStudioFormat(_Members):
    """The Label Studio part of ``LabelExportWriter``: one task per image."""

    def _ls_results(self, regions: Sequence[ExportRegion], image: ExportImage, prefix: str):
        results = []
        for region in regions:
            common = {
                "id": f"{prefix}{region.index}",
                "to_name": LS_TO_NAME,
                "original_width": image.width,
                "original_height": image.height,
                "image_rotation": 0,
            }
            brush = {
                **common,
                "from_name": LS_FROM_NAME,
                "type": "brushlabels",
                "value": {
                    "format": "rle",
                    "rle": ls_mask_to_rle(region.mask),
                    "brushlabels": [region.label],
                },
            }
            if region.score is not None:
                brush["score"] = float(region.score)
            if prefix == "h":  # an annotation: say which regions a person drew or changed
                brush["origin"] = (
                    "manual"
                    if region.source == "human" and region.source_index is None
                    else LS_ORIGINS[region.source]
                )
            results.append(brush)
            if region.severity:
                results.append(
                    {
                        **common,
                        "from_name": LS_SEVERITY_FROM_NAME,
                        "type": "choices",
                        "value": {"choices": [region.severity]},
                    }
                )
            if region.part:
                self._ls_parts.add(region.part)
                results.append(
                    {
                        **common,
                        "from_name": LS_PART_FROM_NAME,
                        "type": "choices",
                        "value": {"choices": [region.part]},
                    }
                )
        return results

    def _ls_task(self, image: ExportImage) -> dict[str, Any]:
        task: dict[str, Any] = {
            "data": {
                "image": image.image_name,
                "split": image.split,
                "reviewed": image.reviewed,
                **{k: v for k, v in image.meta.items() if k not in ("split", "reviewed")},
            }
        }
        if image.predictions:
            versions = sorted({r.model_version or "" for r in image.predictions})
            task["predictions"] = [
                {
                    "model_version": versions[0] if len(versions) == 1 else ",".join(versions),
                    "score": image.photo_score,
                    "result": self._ls_results(image.predictions, image, "p"),
                }
            ]
        if image.reviewed:
            task["annotations"] = [
                {"result": self._ls_results(image.labels, image, "h"), "ground_truth": True}
            ]
        return task
