"""The Label Studio ML backend against the protocol's documented shapes: label-studio-ml-backend's
``label_studio_ml/api.py`` (routes, ``{"results": [...]}``), Label Studio's ``ml/models.py`` (one
result per task, each with ``result``) and the BrushLabels / PolygonLabels result formats."""

import base64
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse

from assessment import model_versions
from claims.tests.factories import jpeg_bytes
from labelling import ml_backend, ml_backend_views
from ml.inference import Prediction, Region
from ml.label_export_core import upsample_mask
from ml.label_export_labelstudio import label_studio_config, ls_rle_to_mask
from ml.labels import PRODUCT_LABEL_MAP

TOKEN = "ls-secret-token"
VERSION = "tiny-ls-backend"

# A project config as Label Studio's "Semantic segmentation with masks" template writes it,
# with the product's display names and a label the model does not know.
LABEL_CONFIG = """<View>
  <Image name="image" value="$image" zoom="true"/>
  <BrushLabels name="tag" toName="image">
    <Label value="Dent" background="#0072b2"/>
    <Label value="Paint damage" background="#cc79a7"/>
    <Label value="Rust" background="#aa0000"/>
  </BrushLabels>
  <PolygonLabels name="outline" toName="image">
    <Label value="paint_damage"/>
    <Label value="Cracked glass"/>
  </PolygonLabels>
</View>"""

_exported: dict[str, Path] = {}


@pytest.fixture
def active_model(tmp_path):
    """The tiny product-taxonomy model, exported once per run, registered and active."""
    from ml.tests.model_fixtures import export_tiny

    if "tiny" not in _exported:
        out = Path(tempfile.mkdtemp(prefix="tiny-ls-")) / "tiny"
        _exported["tiny"] = export_tiny(out, label_map=PRODUCT_LABEL_MAP, version=VERSION)
    model_dir = tmp_path / "model"
    shutil.copytree(_exported["tiny"], model_dir)
    return model_versions.model_version_register(model_dir=model_dir, activate=True)


@pytest.fixture
def token(settings):
    settings.CLAIMVISION_ML_BACKEND_TOKEN = TOKEN
    return TOKEN


def _auth(token=TOKEN):
    return {"HTTP_AUTHORIZATION": f"Token {token}"}


def _basic(user, password):
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {raw}"}


def _data_uri(data: bytes, media_type="image/jpeg") -> str:
    return f"data:{media_type};base64," + base64.b64encode(data).decode()


def _predict_request(tasks, label_config=LABEL_CONFIG):
    # The request Label Studio 1.x sends (label_studio/ml/api_connector.py make_predictions).
    return {
        "tasks": tasks,
        "model_version": "",
        "project": "7.1717171717",
        "label_config": label_config,
        "params": {"login": None, "password": None, "context": None},
    }


def _post(client, name, body, **headers):
    return client.post(
        reverse(f"ml_backend:{name}"),
        data=json.dumps(body),
        content_type="application/json",
        **headers,
    )


# --------------------------------------------------------------------------- pure logic


def test_label_config_parse_reads_controls_and_their_image():
    # when
    controls = ml_backend.label_config_parse(label_config=LABEL_CONFIG)

    # then
    assert [(c.kind, c.from_name, c.to_name, c.data_key) for c in controls] == [
        ("brushlabels", "tag", "image", "image"),
        ("polygonlabels", "outline", "image", "image"),
    ]
    assert controls[0].labels == ("Dent", "Paint damage", "Rust")


def test_label_config_parse_reads_the_exported_config_by_code_not_display_name():
    # given: the config a label export writes, whose labels show display names (html)
    config = label_studio_config(PRODUCT_LABEL_MAP)
    assert 'html="Broken or missing part"' in config

    # when
    (control,) = ml_backend.label_config_parse(label_config=config)
    mapping = ml_backend.label_mapping(label_map=PRODUCT_LABEL_MAP, labels=control.labels)

    # then: the labels are the codes, and every class maps onto its own code
    assert control.labels == tuple(c.name for c in PRODUCT_LABEL_MAP.classes)
    assert mapping.labels == {c.name: c.name for c in PRODUCT_LABEL_MAP.classes}
    assert mapping.skipped == ()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("<View><Image name='i' value='$x'/><Choices name='c' toName='i'/></View>", "has no"),
        ("<View><BrushLabels name='t' toName='nowhere'/></View>", "has no"),
        ("<View><Image", "not valid XML"),
        (
            '<!DOCTYPE v [<!ENTITY a "aaaa">]><View><Image name="i" value="&a;"/></View>',
            "not valid XML",
        ),
        ("<View>" + " " * ml_backend.MAX_LABEL_CONFIG_CHARS + "</View>", "longer than"),
    ],
)
def test_label_config_parse_refuses_unusable_config(config, message):
    with pytest.raises(ml_backend.MlBackendError, match=message):
        ml_backend.label_config_parse(label_config=config)


def test_label_mapping_by_name_or_display_name_and_skips_the_rest():
    # when
    mapping = ml_backend.label_mapping(
        label_map=PRODUCT_LABEL_MAP, labels=["Dent", "paint damage", "Cracked glass", "Rust"]
    )

    # then
    assert mapping.labels == {
        "dent": "Dent",
        "glass_crack": "Cracked glass",
        "paint_damage": "paint damage",
    }
    assert mapping.skipped == ("scratch", "broken_part", "lamp_broken")


def test_task_image_bytes_reads_data_uri_and_refuses_urls_without_network(monkeypatch):
    # given: any attempt to open a connection fails the test
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("the backend opened a connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    photo = jpeg_bytes(seed=1)

    # then
    assert ml_backend.task_image_bytes(value=_data_uri(photo), max_bytes=10**6) == photo
    for url in (
        "http://169.254.169.254/latest/meta-data/",
        "https://example.com/photo.jpg",
        "/data/upload/7/photo.jpg",
        "file:///etc/passwd",
    ):
        with pytest.raises(ml_backend.MlBackendError, match="never fetches a URL"):
            ml_backend.task_image_bytes(value=url, max_bytes=10**6)
    with pytest.raises(ml_backend.MlBackendError, match="not a base64 data: URI"):
        ml_backend.task_image_bytes(value="data:image/jpeg,%FF%D8", max_bytes=10**6)
    with pytest.raises(ml_backend.MlBackendError, match="larger than 100 bytes"):
        ml_backend.task_image_bytes(value=_data_uri(photo), max_bytes=100)


def _hand_prediction() -> Prediction:
    """A 12 x 8 mask grid for a 30 x 20 photo (factor 2.5: not an integer), two regions."""
    dent = np.zeros((8, 12), dtype=bool)
    dent[1:4, 2:7] = True
    rust_like = np.zeros((8, 12), dtype=bool)
    rust_like[5:8, 8:12] = True
    regions = [
        Region("dent", 1, 0.7, "minor", dent, [], [2, 1, 5, 3], 0.15),
        Region("broken_part", 3, 0.4, "moderate", rust_like, [], [8, 5, 4, 3], 0.1),
    ]
    return Prediction(
        model_version="v-hand",
        image_width=30,
        image_height=20,
        mask_width=12,
        mask_height=8,
        photo_confidence=0.55,
        regions=regions,
        timings_ms={},
        class_map=np.zeros((8, 12), dtype=np.uint8),
        damage_prob=np.zeros((8, 12), dtype=np.float32),
    )


def test_prediction_for_task_brush_rle_decodes_to_the_mask_at_original_size():
    # given
    prediction = _hand_prediction()
    controls = ml_backend.label_config_parse(label_config=LABEL_CONFIG)

    # when
    out = ml_backend.prediction_for_task(
        prediction=prediction, controls=controls, label_map=PRODUCT_LABEL_MAP, id_prefix="5-"
    )

    # then: the dent only (broken_part is in neither control), brush and polygon
    assert out["score"] == pytest.approx(0.55)
    assert out["model_version"] == "v-hand"
    assert out["regions_skipped"] == 1
    assert "broken_part" in out["labels_skipped"]
    brush = [r for r in out["result"] if r["type"] == "brushlabels"]
    assert len(brush) == 1
    (b,) = brush
    assert (b["from_name"], b["to_name"], b["id"]) == ("tag", "image", "5-tag-0")
    assert (b["original_width"], b["original_height"]) == (30, 20)
    assert b["score"] == pytest.approx(0.7)
    assert b["value"]["format"] == "rle"
    assert b["value"]["brushlabels"] == ["Dent"]
    decoded = ls_rle_to_mask(b["value"]["rle"], 20, 30)
    expected = upsample_mask(prediction.regions[0].mask, 20, 30)
    assert decoded.shape == (20, 30)
    assert np.array_equal(decoded, expected)
    assert 0 < decoded.sum() < decoded.size


def test_prediction_for_task_polygon_points_are_percent_of_the_image():
    # given: a config with polygons for the dent
    config = (
        '<View><Image name="img" value="$photo"/>'
        '<PolygonLabels name="poly" toName="img"><Label value="dent"/></PolygonLabels></View>'
    )
    controls = ml_backend.label_config_parse(label_config=config)

    # when
    out = ml_backend.prediction_for_task(
        prediction=_hand_prediction(), controls=controls, label_map=PRODUCT_LABEL_MAP
    )

    # then: the dent cells are x 2..6, y 1..3 of 12 x 8: centres 20.8..54.2 %, 18.8..43.8 %
    (poly,) = out["result"]
    assert poly["type"] == "polygonlabels"
    assert poly["value"]["polygonlabels"] == ["dent"]
    assert poly["value"]["closed"] is True
    points = np.asarray(poly["value"]["points"])
    assert points.shape[0] >= 3 and points.shape[1] == 2
    assert (points >= 0).all() and (points <= 100).all()
    assert points[:, 0].min() == pytest.approx(2.5 * 100 / 12, abs=0.01)
    assert points[:, 0].max() == pytest.approx(6.5 * 100 / 12, abs=0.01)
    assert points[:, 1].min() == pytest.approx(1.5 * 100 / 8, abs=0.01)
    assert points[:, 1].max() == pytest.approx(3.5 * 100 / 8, abs=0.01)


# --------------------------------------------------------------------------- the endpoints


@pytest.mark.django_db
def test_health_shape_without_and_with_token(client, token, active_model):
    # when
    anonymous = client.get(reverse("ml_backend:health"))
    signed = client.get(reverse("ml_backend:health"), **_auth())

    # then
    assert anonymous.status_code == 200
    assert anonymous.json() == {"status": "UP", "model_class": ml_backend_views.MODEL_CLASS}
    assert signed.json() == {
        "status": "UP",
        "model_class": ml_backend_views.MODEL_CLASS,
        "model_version": VERSION,
    }
    assert client.get("/ml-backend/").json()["status"] == "UP"


@pytest.mark.django_db
def test_unconfigured_backend_answers_503_but_health(client, settings):
    # given
    settings.CLAIMVISION_ML_BACKEND_TOKEN = ""

    # then
    assert client.get(reverse("ml_backend:health")).status_code == 200
    response = _post(client, "predict", _predict_request([]), **_auth())
    assert response.status_code == 503
    assert response.json()["error"]["message"] == ml_backend_views.ERR_NOT_CONFIGURED
    assert _post(client, "setup", {"project": "1.2"}, **_auth()).status_code == 503


@pytest.mark.django_db
def test_setup_returns_model_version_and_skipped_labels(client, token, active_model):
    # given: Label Studio's setup request (api_connector.py setup)
    body = {
        "project": "7.1717171717",
        "schema": LABEL_CONFIG,
        "hostname": "http://localhost:8080",
        "access_token": "ls-user-token",
        "extra_params": None,
    }

    # when
    response = _post(client, "setup", body, **_basic("label-studio", TOKEN))

    # then: scratch, broken_part and lamp_broken are in neither control
    assert response.status_code == 200
    assert response.json() == {
        "model_version": VERSION,
        "labels_skipped": ["broken_part", "lamp_broken", "scratch"],
    }


@pytest.mark.django_db
def test_setup_refuses_a_config_without_brush_or_polygon(client, token, active_model):
    body = {"project": "7.1", "schema": "<View><Image name='i' value='$i'/></View>"}
    response = _post(client, "setup", body, **_auth())
    assert response.status_code == 400
    assert response.json()["error"]["message"] == ml_backend.ERR_CONFIG_NO_CONTROL


@pytest.mark.django_db
def test_predict_data_uri_returns_label_studio_predictions(client, token, active_model):
    # given
    photo = jpeg_bytes(120, 80, seed=3)
    tasks = [{"id": 11, "data": {"image": _data_uri(photo)}, "project": 7}]
    reading = model_versions.segmenters.get(active_model).predict(photo)
    assert reading.regions, "the tiny model finds a region on this photo"

    # when
    response = _post(client, "predict", _predict_request(tasks), **_basic("ls", TOKEN))

    # then: one prediction per task, in Label Studio's shape
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["results"]
    (pred,) = body["results"]
    assert pred["model_version"] == VERSION
    assert pred["score"] == pytest.approx(reading.photo_confidence)
    mapped = [r for r in reading.regions if r.label in ("dent", "paint_damage")]
    brush = [r for r in pred["result"] if r["type"] == "brushlabels"]
    polygons = [r for r in pred["result"] if r["type"] == "polygonlabels"]
    assert len(brush) == len(mapped) > 0
    assert len(polygons) >= len(mapped)
    for result, region in zip(brush, mapped, strict=True):
        assert (result["original_width"], result["original_height"]) == (120, 80)
        assert result["score"] == pytest.approx(region.confidence)
        expected_label = {"dent": "Dent", "paint_damage": "Paint damage"}[region.label]
        assert result["value"]["brushlabels"] == [expected_label]
        decoded = ls_rle_to_mask(result["value"]["rle"], 80, 120)
        assert np.array_equal(decoded, upsample_mask(region.mask, 80, 120))
    for result in polygons:
        assert result["from_name"] == "outline"
        points = np.asarray(result["value"]["points"])
        assert ((points >= 0) & (points <= 100)).all()


@pytest.mark.django_db
def test_predict_refuses_urls_per_task_without_network(client, token, active_model, monkeypatch):
    # given: the network is off limits
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("the backend opened a connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    tasks = [
        {"id": 1, "data": {"image": "http://169.254.169.254/latest/meta-data/"}},
        {"id": 2, "data": {"image": _data_uri(jpeg_bytes(seed=4))}},
        {"id": 3, "data": {"image": _data_uri(b"not an image")}},
        {"id": 4, "data": {}},
    ]

    # when
    response = _post(client, "predict", _predict_request(tasks), **_auth())

    # then: one answer per task, in order; only the photo is predicted
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 4
    assert results[0]["result"] == []
    assert results[0]["error"] == ml_backend.ERR_IMAGE_URL_REFUSED
    assert results[1]["result"] and "error" not in results[1]
    assert results[2]["result"] == [] and "could not read the image" in results[2]["error"]
    assert results[3]["error"] == ml_backend.ERR_TASK_NO_IMAGE.format(key="image")
    assert all(r["model_version"] == VERSION for r in results)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"HTTP_AUTHORIZATION": "Token wrong"}, 403),
        ({"HTTP_AUTHORIZATION": "Bearer wrong"}, 403),
        (_basic("label-studio", "wrong"), 403),
        ({"HTTP_AUTHORIZATION": "Basic !!!"}, 403),
        ({"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}, 200),
    ],
)
def test_predict_auth(client, token, active_model, headers, status):
    response = _post(client, "predict", _predict_request([]), **headers)
    assert response.status_code == status
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Basic")
    if status == 200:
        assert response.json() == {"results": []}


@pytest.mark.django_db
def test_predict_oversized_request_is_413(client, token, settings):
    # given: more than the JSON body cap
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    tasks = [{"id": 1, "data": {"image": _data_uri(b"x" * 20_000)}}]

    # when
    response = _post(client, "predict", _predict_request(tasks), **_auth())

    # then
    assert response.status_code == 413


@pytest.mark.django_db
def test_predict_too_many_tasks_is_413(client, token):
    tasks = [{"id": i, "data": {}} for i in range(ml_backend_views.MAX_TASKS_PER_REQUEST + 1)]
    response = _post(client, "predict", _predict_request(tasks), **_auth())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_many_tasks"


@pytest.mark.django_db
@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b"[" * 200_000])
def test_predict_malformed_json_is_400(client, token, raw):
    response = client.post(
        reverse("ml_backend:predict"), data=raw, content_type="application/json", **_auth()
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == ml_backend_views.ERR_JSON


@pytest.mark.django_db
def test_predict_needs_tasks_and_label_config(client, token):
    no_tasks = _post(client, "predict", {"label_config": LABEL_CONFIG}, **_auth())
    no_config = _post(client, "predict", {"tasks": []}, **_auth())
    assert no_tasks.status_code == 400
    assert no_tasks.json()["error"]["message"] == ml_backend_views.ERR_TASKS
    assert no_config.status_code == 400
    assert no_config.json()["error"]["message"] == ml_backend_views.ERR_LABEL_CONFIG


@pytest.mark.django_db
def test_versions_and_webhook(client, token, active_model):
    # when
    versions = client.get(reverse("ml_backend:versions"), **_auth())
    webhook = _post(client, "webhook", {"action": "ANNOTATION_CREATED", "project": {"id": 7}})

    # then: the webhook takes no credentials and starts nothing
    assert versions.json() == {"versions": [VERSION]}
    assert webhook.status_code == 200
    assert webhook.json() == {"status": "Unknown event"}
    assert client.get(reverse("ml_backend:versions")).status_code == 401
