"""Label Studio's ML-backend protocol over HTTP: ``/health``, ``/setup``, ``/predict``,
``/versions`` and ``/webhook`` under ``/ml-backend/`` (mounted by config/urls.py).

Plain JSON views, outside the versioned API (``/api/v1``) and its schema: the request and
response shapes are Label Studio's, not ours. Label Studio authenticates with Basic auth (its
model settings offer nothing else); curl and scripts may send ``Authorization: Token`` or
``Bearer``. The secret is ``CLAIMVISION_ML_BACKEND_TOKEN``; without it only ``/health`` answers.
The conversion lives in ``labelling.ml_backend``; docs/labelling-ml-backend.md is the guide.
"""

import base64
import binascii
import hmac
import json
import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from assessment.model_versions import model_version_active, segmenters
from config.errors import error_body
from labelling import ml_backend
from ml.inference import ImageDecodeError

logger = logging.getLogger(__name__)

# What /health names as the model class (the SDK reports its LabelStudioMLBase subclass).
MODEL_CLASS = "ClaimVisionSegmenter"
# Label Studio sends every selected task in one /predict and waits ML_TIMEOUT_PREDICT (100 s by
# default); the model reads a photo in well under a second on one core, so 32 photos answer in
# time with room to spare, and a larger batch is refused rather than timed out half-way.
MAX_TASKS_PER_REQUEST = 32

ERR_NOT_CONFIGURED = (
    "The ML backend is not configured: set CLAIMVISION_ML_BACKEND_TOKEN "
    "(docs/labelling-ml-backend.md)."
)
ERR_AUTH_REQUIRED = (
    "The ML backend needs Basic auth (any user name, the token as password) "
    "or 'Authorization: Token <token>'."
)
ERR_FORBIDDEN = "That token may not use the ML backend."
ERR_TOO_LARGE = "The request is larger than {limit} bytes."
ERR_JSON = "The request body is not a JSON object."
ERR_TASKS = "'tasks' must be a list of task objects."
ERR_TOO_MANY_TASKS = (
    "At most {limit} tasks per request; select fewer tasks in Label Studio and retrieve "
    "predictions again."
)
ERR_LABEL_CONFIG = "'label_config' (the project's labelling config) is required."


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def _credentials(request: HttpRequest) -> str | None:
    """The secret the request offers: a Token / Bearer credential or a Basic password."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme in ("token", "bearer") and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return None


def _refusal(request: HttpRequest) -> JsonResponse | None:
    """None when the request may use the backend, else the answer that refuses it."""
    expected = settings.CLAIMVISION_ML_BACKEND_TOKEN
    if not expected:
        return _error(503, "not_configured", ERR_NOT_CONFIGURED)
    offered = _credentials(request)
    if offered is None:
        response = _error(401, "not_authenticated", ERR_AUTH_REQUIRED)
        response["WWW-Authenticate"] = 'Basic realm="ml-backend"'
        return response
    if not hmac.compare_digest(offered.encode(), expected.encode()):
        return _error(403, "permission_denied", ERR_FORBIDDEN)
    return None


def _request_limit() -> int:
    # The site-wide JSON body cap (claims.uploads.RequestSizeLimitMiddleware refuses a larger
    # declared Content-Length before any view); read to it here too, for a body sent without one.
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _json_body(request: HttpRequest) -> tuple[dict | None, JsonResponse | None]:
    limit = _request_limit()
    raw = request.read(limit + 1)
    if len(raw) > limit:
        return None, _error(413, "request_too_large", ERR_TOO_LARGE.format(limit=limit))
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, RecursionError):  # RecursionError: hostile nesting ("[[[[...")
        return None, _error(400, "parse_error", ERR_JSON)
    if not isinstance(data, dict):
        return None, _error(400, "parse_error", ERR_JSON)
    return data, None


@never_cache
@require_GET
def health_view(request: HttpRequest) -> JsonResponse:
    """Open to all (Label Studio polls it with a 1 s timeout); the version only to the token."""
    body = {"status": "UP", "model_class": MODEL_CLASS}
    if settings.CLAIMVISION_ML_BACKEND_TOKEN and _refusal(request) is None:
        body["model_version"] = model_version_active().version
    return JsonResponse(body)


@never_cache
@csrf_exempt
@require_POST
def setup_view(request: HttpRequest) -> JsonResponse:
    """``{"project": "<id>.<created>", "schema": "<View>...", ...}`` -> the active version, and
    which model classes the config's labels lack (a config this model cannot fill is a 400)."""
    refused = _refusal(request)
    if refused is not None:
        return refused
    data, error = _json_body(request)
    if error is not None:
        return error
    body = {"model_version": model_version_active().version}
    schema = data.get("schema") or data.get("label_config")
    if isinstance(schema, str) and schema:
        try:
            controls = ml_backend.label_config_parse(label_config=schema)
        except ml_backend.MlBackendError as exc:
            return _error(400, "invalid_label_config", str(exc))
        label_map = segmenters.get(model_version_active()).label_map
        mappings = [
            ml_backend.label_mapping(label_map=label_map, labels=control.labels)
            for control in controls
        ]
        body["labels_skipped"] = ml_backend.labels_skipped(mappings=mappings)
    return JsonResponse(body)


@never_cache
@csrf_exempt
@require_POST
def predict_view(request: HttpRequest) -> JsonResponse:
    """``{"tasks": [...], "label_config": "...", "project": ..., "params": {...}}`` ->
    ``{"results": [{"result": [...], "score": ..., "model_version": ...}, ...]}``, one per task
    in order; a task whose image cannot be read gets an empty result with an ``error``."""
    refused = _refusal(request)
    if refused is not None:
        return refused
    data, error = _json_body(request)
    if error is not None:
        return error
    tasks = data.get("tasks")
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        return _error(400, "invalid_request", ERR_TASKS)
    if len(tasks) > MAX_TASKS_PER_REQUEST:
        return _error(413, "too_many_tasks", ERR_TOO_MANY_TASKS.format(limit=MAX_TASKS_PER_REQUEST))
    label_config = data.get("label_config")
    if not isinstance(label_config, str) or not label_config:
        return _error(400, "invalid_request", ERR_LABEL_CONFIG)
    try:
        controls = ml_backend.label_config_parse(label_config=label_config)
    except ml_backend.MlBackendError as exc:
        return _error(400, "invalid_label_config", str(exc))
    model_version = model_version_active()
    segmenter = segmenters.get(model_version)
    max_image = min(settings.CLAIMVISION_MAX_UPLOAD_BYTES, _request_limit())
    results = [
        _task_prediction(task, controls, segmenter, model_version.version, max_image)
        for task in tasks
    ]
    return JsonResponse({"results": results})


def _task_prediction(task, controls, segmenter, version: str, max_image: int) -> dict:
    """One task: each image its controls label is read once (a config may label two images)."""
    by_key: dict[str, list] = {}
    for control in controls:
        by_key.setdefault(control.data_key, []).append(control)
    combined = None
    for key, key_controls in by_key.items():
        try:
            value = ml_backend.task_image_value(task=task, data_key=key)
            image = ml_backend.task_image_bytes(value=value, max_bytes=max_image)
            prediction = segmenter.predict(image)
        except ImageDecodeError as exc:
            error = ml_backend.ERR_IMAGE_UNREADABLE.format(error=exc)
        except ml_backend.MlBackendError as exc:
            error = str(exc)
        else:
            one = ml_backend.prediction_for_task(
                prediction=prediction,
                controls=key_controls,
                label_map=segmenter.label_map,
                id_prefix=f"{task.get('id', '')}-",
            )
            if combined is None:
                combined = one
            else:
                combined["result"].extend(one["result"])
            continue
        logger.info("ml-backend: task %s not predicted: %s", task.get("id"), error)
        return ml_backend.prediction_empty(model_version=version, error=error)
    return combined


@never_cache
@require_http_methods(["GET", "POST"])
@csrf_exempt
def versions_view(request: HttpRequest) -> JsonResponse:
    """The versions Label Studio may choose from: the active one (the product picks it)."""
    refused = _refusal(request)
    if refused is not None:
        return refused
    return JsonResponse({"versions": [model_version_active().version]})


@never_cache
@csrf_exempt
@require_POST
def webhook_view(request: HttpRequest) -> JsonResponse:
    """Label Studio registers ``<backend>/webhook`` for its annotation events, without the
    backend's credentials. Training is the product's own (learning stage), so every event is
    acknowledged and ignored: nothing is read beyond the size cap, nothing is started."""
    _, error = _json_body(request)
    if error is not None:
        return error
    return JsonResponse({"status": "Unknown event"})
