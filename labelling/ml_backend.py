"""The product's model as a Label Studio ML backend, without HTTP: the project's labelling config
read into the controls to fill, task images resolved without the network, and one model reading
turned into Label Studio prediction results (brush RLE and polygons).

The views (``labelling.ml_backend_views``) read the request and call these; docs in
docs/labelling-ml-backend.md. Formats from Label Studio's own documentation: BrushLabels and
PolygonLabels tags (``labelstud.io/tags``) and the ML backend SDK's ``label_studio_ml/api.py``.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ml.inference import Prediction
from ml.label_export_core import export_polygons, upsample_mask
from ml.label_export_labelstudio import ls_mask_to_rle
from ml.labels import LabelMap

logger = logging.getLogger(__name__)

# A labelling config is a page of XML; Label Studio's largest templates are a few kB. The cap
# keeps a hostile config from costing parse time (entities are refused by defusedxml anyway).
MAX_LABEL_CONFIG_CHARS = 100_000

ERR_CONFIG_TOO_LARGE = "label_config is longer than {limit} characters."
ERR_CONFIG_XML = "label_config is not valid XML: {error}"
ERR_CONFIG_NO_CONTROL = (
    "label_config has no <BrushLabels> or <PolygonLabels> tag on an <Image>: "
    "nothing this model can pre-label."
)
ERR_TASK_NO_IMAGE = "The task has no image under data.{key}."
ERR_IMAGE_URL_REFUSED = (
    "Only data: URIs (base64) are read; this backend never fetches a URL from the network. "
    "Send the image inline or use the product's own labelling projects."
)
ERR_IMAGE_DATA_URI = "The image is not a base64 data: URI."
ERR_IMAGE_TOO_LARGE = "The image is larger than {limit} bytes."
ERR_IMAGE_UNREADABLE = "The model could not read the image: {error}"

BRUSH = "brushlabels"
POLYGON = "polygonlabels"
_CONTROL_TAGS = {"brushlabels": BRUSH, "polygonlabels": POLYGON}

# data:[<media type>][;base64],<data>; only base64 (a photo in percent-encoding is not a thing).
_DATA_URI = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^,;]*)*?);base64,", re.I)


class MlBackendError(ValueError):
    """A request this backend cannot serve; the message is one of the ERR_* constants."""


@dataclass(frozen=True)
class LabelControl:
    """One ``<BrushLabels>`` or ``<PolygonLabels>`` of the config and the image it labels."""

    kind: str  # BRUSH or POLYGON: the result ``type``
    from_name: str
    to_name: str
    data_key: str  # the task ``data`` key of the image (``$image`` -> ``image``)
    labels: tuple[str, ...]


@dataclass(frozen=True)
class LabelMapping:
    """Model class name -> the config's label value; the model classes the config lacks."""

    labels: dict[str, str]
    skipped: tuple[str, ...] = field(default_factory=tuple)


def label_config_parse(*, label_config: str) -> list[LabelControl]:
    """The controls this model can fill, in document order. Raises :class:`MlBackendError`."""
    if len(label_config) > MAX_LABEL_CONFIG_CHARS:
        raise MlBackendError(ERR_CONFIG_TOO_LARGE.format(limit=MAX_LABEL_CONFIG_CHARS))
    try:
        root = fromstring(label_config)
    except (ParseError, DefusedXmlException) as exc:
        raise MlBackendError(ERR_CONFIG_XML.format(error=exc)) from exc
    images = {}
    for el in root.iter():
        if el.tag.lower() == "image" and el.get("name"):
            images[el.get("name")] = (el.get("value") or "").lstrip("$")
    controls = []
    for el in root.iter():
        kind = _CONTROL_TAGS.get(el.tag.lower())
        to_name = el.get("toName", "")
        if kind is None or not el.get("name") or not images.get(to_name):
            continue
        labels = tuple(
            lab.get("value") for lab in el.iter() if lab.tag.lower() == "label" and lab.get("value")
        )
        controls.append(LabelControl(kind, el.get("name"), to_name, images[to_name], labels))
    if not controls:
        raise MlBackendError(ERR_CONFIG_NO_CONTROL)
    return controls


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text).strip().casefold()


def label_mapping(*, label_map: LabelMap, labels: Sequence[str]) -> LabelMapping:
    """Each model class to the config label with its name or display name (case, spaces,
    ``_`` and ``-`` ignored: ``glass_crack``, ``Glass crack`` and ``Cracked glass`` all match
    the class ``glass_crack`` shown as "Cracked glass"). A class the config lacks is skipped."""
    by_norm = {}
    for value in labels:
        by_norm.setdefault(_norm(value), value)
    mapped, skipped = {}, []
    for cls in sorted(label_map.classes, key=lambda c: c.id):
        value = by_norm.get(_norm(cls.name)) or by_norm.get(_norm(cls.display_name))
        if value is None:
            skipped.append(cls.name)
        else:
            mapped[cls.name] = value
    return LabelMapping(mapped, tuple(skipped))


def labels_skipped(*, mappings: Sequence[LabelMapping]) -> list[str]:
    """The model classes no control of the config can show (their regions are left out)."""
    mappings = list(mappings)
    if not mappings:
        return []
    return sorted(set.intersection(*(set(m.skipped) for m in mappings)))


def task_image_value(*, task: Mapping[str, Any], data_key: str) -> str:
    data = task.get("data") if isinstance(task, Mapping) else None
    value = data.get(data_key) if isinstance(data, Mapping) else None
    if not isinstance(value, str) or not value:
        raise MlBackendError(ERR_TASK_NO_IMAGE.format(key=data_key))
    return value


def task_image_bytes(*, value: str, max_bytes: int) -> bytes:
    """The image bytes of a task's image value: a base64 ``data:`` URI and nothing else.

    No URL is fetched, ever: the backend runs without the network, and a URL taken from a
    request is how a server is made to reach what it should not (SSRF).
    """
    match = _DATA_URI.match(value)
    if match is None:
        if value[:5].lower() == "data:":
            raise MlBackendError(ERR_IMAGE_DATA_URI)
        raise MlBackendError(ERR_IMAGE_URL_REFUSED)
    payload = value[match.end() :]
    # base64 is 4 characters per 3 bytes: refuse before decoding what cannot fit.
    if len(payload) > (max_bytes + 2) // 3 * 4 + 4:
        raise MlBackendError(ERR_IMAGE_TOO_LARGE.format(limit=max_bytes))
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MlBackendError(ERR_IMAGE_DATA_URI) from exc
    if len(data) > max_bytes:
        raise MlBackendError(ERR_IMAGE_TOO_LARGE.format(limit=max_bytes))
    return data


def _percent_points(flat: Sequence[float], width: int, height: int) -> list[list[float]]:
    """Mask-grid contour vertices (pixel centres) as Label Studio's percent of the image."""
    points = []
    for i in range(0, len(flat), 2):
        x = min(max((flat[i] + 0.5) * 100.0 / width, 0.0), 100.0)
        y = min(max((flat[i + 1] + 0.5) * 100.0 / height, 0.0), 100.0)
        points.append([round(x, 4), round(y, 4)])
    return points


def prediction_results(
    *,
    prediction: Prediction,
    controls: Sequence[LabelControl],
    mappings: Mapping[str, LabelMapping],
    id_prefix: str = "",
) -> list[dict[str, Any]]:
    """Label Studio results for one model reading, one per region and control.

    ``mappings``: per control ``from_name``. Brush masks are the model's mask grid upsampled
    (nearest) to the photo's size, RGBA in Label Studio's RLE; polygons are the region's outer
    contours in percent. ``score`` is the region's calibrated confidence.
    """
    width, height = prediction.image_width, prediction.image_height
    results: list[dict[str, Any]] = []
    for control in controls:
        mapping = mappings[control.from_name]
        for index, region in enumerate(prediction.regions):
            label = mapping.labels.get(region.label)
            if label is None:
                continue
            common = {
                "from_name": control.from_name,
                "to_name": control.to_name,
                "type": control.kind,
                "original_width": width,
                "original_height": height,
                "image_rotation": 0,
                "score": float(region.confidence),
                "readonly": False,
            }
            rid = f"{id_prefix}{control.from_name}-{index}"
            if control.kind == BRUSH:
                mask = upsample_mask(region.mask, height, width)
                value = {"format": "rle", "rle": ls_mask_to_rle(mask), BRUSH: [label]}
                results.append({"id": rid, **common, "value": value})
                continue
            mh, mw = region.mask.shape
            for part, flat in enumerate(export_polygons(region.mask)):
                value = {"points": _percent_points(flat, mw, mh), "closed": True, POLYGON: [label]}
                pid = rid if part == 0 else f"{rid}-{part}"
                results.append({"id": pid, **common, "value": value})
    return results


def prediction_for_task(
    *, prediction: Prediction, controls: Sequence[LabelControl], label_map: LabelMap, id_prefix=""
) -> dict[str, Any]:
    """One task's Label Studio prediction: ``result``, the photo's ``score`` and the version,
    with the model classes the config lacks (``labels_skipped``, Label Studio ignores it) and
    how many regions were left out for that reason."""
    mappings = {c.from_name: label_mapping(label_map=label_map, labels=c.labels) for c in controls}
    results = prediction_results(
        prediction=prediction, controls=controls, mappings=mappings, id_prefix=id_prefix
    )
    unmapped = sum(
        1 for r in prediction.regions if all(r.label not in m.labels for m in mappings.values())
    )
    return {
        "result": results,
        "score": float(prediction.photo_confidence),
        "model_version": prediction.model_version,
        "labels_skipped": labels_skipped(mappings=mappings.values()),
        "regions_skipped": unmapped,
    }


def prediction_empty(*, model_version: str, error: str) -> dict[str, Any]:
    """A task this backend could not read: an empty prediction (Label Studio needs one result
    per task, in order) that says why."""
    return {"result": [], "score": None, "model_version": model_version, "error": error}
