"""Projects, members, pre-labelling, labels, flags, skips and QA (labelling.services)."""

import io

import numpy as np
import pytest

from assessment.tests.conftest import region
from claims.tests.factories import jpeg_bytes
from config.errors import ApplicationError, ConflictError
from labelling import services
from labelling.models import ItemLabels, ItemLabelsSave, ItemPrediction, ProjectItem, QAReview
from labelling.tests.factories import ProjectFactory, box_mask, item_make, region_in
from ml.coco import mask_to_rle, rle_to_mask

S = ProjectItem.Status


def test_project_create_defaults_to_the_active_models_label_map(data_team_member, model_version):
    project = services.project_create(user=data_team_member, name="  Archive  ")

    assert project.name == "Archive"
    assert project.label_map == model_version.label_map
    assert (project.qa_share, project.scratch_share) == (0.2, 0.1)


def test_project_create_refused_for_a_labeller(labeller, model_version):
    with pytest.raises(ApplicationError) as exc:
        services.project_create(user=labeller, name="Mine")

    assert exc.value.message == services.ERR_NOT_MANAGER


def test_project_create_refuses_a_share_outside_the_unit_interval(data_team_member, model_version):
    with pytest.raises(ApplicationError) as exc:
        services.project_create(user=data_team_member, name="x", qa_share=1.5)

    assert exc.value.code == "invalid_share"


def test_project_member_add_is_idempotent(project, data_team_member, outsider):
    first = services.project_member_add(
        user=data_team_member, project=project, member=outsider, role="reviewer"
    )
    again = services.project_member_add(
        user=data_team_member, project=project, member=outsider, role="reviewer"
    )

    assert first.pk == again.pk
    assert project.memberships.filter(user=outsider).count() == 1


def test_draw_is_a_function_of_the_item_id_and_purpose():
    assert services.draw("abc", "scratch") == services.draw("abc", "scratch")
    assert services.draw("abc", "scratch") != services.draw("abc", "qa")
    assert 0.0 <= services.draw("abc", "qa") < 1.0


def test_scratch_share_draw_stays_within_a_binomial_bound(data_team_member, model_version):
    # given a project showing 30% of its items without pre-labels
    project = ProjectFactory(created_by=data_team_member, scratch_share=0.3)
    n = 60
    # when n photos are imported
    items = [item_make(project, data=jpeg_bytes(seed=1000 + i)) for i in range(n)]
    # then the share without pre-labels is within 4 standard deviations of 0.3
    scratch = sum(not item.show_prelabels for item in items)
    sd = (n * 0.3 * 0.7) ** 0.5
    assert abs(scratch - 0.3 * n) <= 4 * sd
    # and each recorded draw is the one derived from the item's id
    for item in items:
        assert item.show_prelabels == (services.draw(item.pk, "scratch") >= 0.3)


def test_item_prelabel_stores_one_prediction_per_model_version(project, segmenter):
    segmenter.regions = [region("dent", 0.9, "moderate")]
    item = item_make(project)

    first = services.item_prelabel(item_id=item.pk)
    again = services.item_prelabel(item_id=item.pk)

    assert first.pk == again.pk
    assert segmenter.calls == 1
    assert ItemPrediction.objects.filter(item=item).count() == 1
    item.refresh_from_db()
    assert item.status == S.PRELABELLED
    (stored,) = first.regions
    assert stored["label"] == "dent" and stored["severity"] == "moderate"
    assert stored["score"] == pytest.approx(0.9)
    # the 64x48 scripted mask is resampled onto the item's own grid
    assert stored["mask_rle"]["size"] == [item.mask_height, item.mask_width]
    assert rle_to_mask(stored["mask_rle"]).sum() == stored["area"] > 0


def test_item_prelabel_after_the_sweeper_gave_up_clears_its_reason(project, segmenter):
    # given the sweeper left the item to be labelled from scratch, then a late delivery runs
    item = item_make(project)
    ProjectItem.objects.filter(pk=item.pk).update(
        status=S.PRELABELLED,
        prelabel_error=services.ERR_PRELABEL_GAVE_UP.format(attempts=3),
    )

    stored = services.item_prelabel(item_id=item.pk)

    # then the pre-labels are there and the item no longer says they are missing
    assert stored is not None
    item.refresh_from_db()
    assert (item.status, item.prelabel_error) == (S.PRELABELLED, "")


def test_item_prelabel_keeps_the_status_of_an_item_being_labelled(project, segmenter, labeller):
    item = item_make(project)
    services.item_labels_save(item=item, user=labeller, base_version=0, regions=[])

    services.item_prelabel(item_id=item.pk)

    item.refresh_from_db()
    assert item.status == S.IN_PROGRESS


def test_item_prelabel_records_an_undecodable_photo(project, segmenter):
    from ml.inference import ImageDecodeError

    segmenter.error = ImageDecodeError("bad bytes")
    item = item_make(project)

    assert services.item_prelabel(item_id=item.pk) is None

    item.refresh_from_db()
    assert item.status == S.PRELABELLED
    assert "bad bytes" in item.prelabel_error


def _prelabelled(project, segmenter, **overrides):
    segmenter.regions = [region("dent", 0.9, "minor", box=(10, 10, 20, 12))]
    item = item_make(project, data=jpeg_bytes(seed=overrides.pop("seed", 7)))
    ProjectItem.objects.filter(pk=item.pk).update(**overrides)
    item.refresh_from_db()
    services.item_prelabel(item_id=item.pk)
    item.refresh_from_db()
    return item, item.predictions.get()


def test_item_labels_save_marks_an_unchanged_prelabel_accepted(project, segmenter, labeller):
    item, prediction = _prelabelled(project, segmenter)
    pre = prediction.regions[0]
    regions = [
        {"label": "dent", "severity": "minor", "mask_rle": pre["mask_rle"], "source_index": 0},
        region_in(item, "scratch", "minor", box=(100, 100, 30, 30)),
    ]

    labels = services.item_labels_save(
        item=item, user=labeller, base_version=0, regions=regions, active_ms=1500
    )

    assert labels.version == 1 and labels.source == "labelled"
    assert [r["origin"] for r in labels.regions] == ["accepted", "added"]
    assert labels.prediction_id == prediction.pk
    item.refresh_from_db()
    assert (item.status, item.time_on_task_ms, item.assigned_to) == (S.IN_PROGRESS, 1500, labeller)
    assert ItemLabelsSave.objects.filter(item=item).count() == 1


def test_item_labels_save_stale_base_version_is_a_conflict(project, segmenter, labeller):
    item = item_make(project)
    services.item_labels_save(item=item, user=labeller, base_version=0, regions=[])

    with pytest.raises(ConflictError) as exc:
        services.item_labels_save(item=item, user=labeller, base_version=0, regions=[])

    assert exc.value.code == "stale_labels"
    assert exc.value.details == {"current_version": 1, "base_version": 0}
    assert ItemLabels.objects.get(item=item).version == 1


def test_item_labels_save_refuses_a_source_on_an_item_without_prelabels(
    project, segmenter, labeller
):
    item, prediction = _prelabelled(project, segmenter, show_prelabels=False)
    regions = [
        {
            "label": "dent",
            "severity": "minor",
            "mask_rle": prediction.regions[0]["mask_rle"],
            "source_index": 0,
        }
    ]

    with pytest.raises(ApplicationError) as exc:
        services.item_labels_save(item=item, user=labeller, base_version=0, regions=regions)

    assert exc.value.code == "invalid_region"


def test_item_labels_save_refuses_a_mask_on_another_grid(project, segmenter, labeller):
    item = item_make(project)
    bad = {"label": "dent", "severity": "minor", "mask_rle": mask_to_rle(np.ones((4, 4), bool))}

    with pytest.raises(ApplicationError) as exc:
        services.item_labels_save(item=item, user=labeller, base_version=0, regions=[bad])

    assert exc.value.code == "invalid_mask"


def test_item_labels_save_by_an_outsider_is_refused(project, segmenter, outsider):
    item = item_make(project)

    with pytest.raises(ApplicationError) as exc:
        services.item_labels_save(item=item, user=outsider, base_version=0, regions=[])

    assert exc.value.message == services.ERR_NOT_LABELLER


def test_item_labels_submit_goes_to_qa_when_drawn(data_team_member, model_version, labeller):
    project = labeller.labelling_projects.get()
    project.qa_share = 1.0
    project.save()
    item = item_make(project)

    services.item_labels_save(
        item=item, user=labeller, base_version=0, regions=[region_in(item)], submit=True
    )

    item.refresh_from_db()
    assert (item.status, item.qa_selected) == (S.IN_QA, True)


def test_item_labels_submit_without_qa_draw_is_labelled(project, labeller):
    project.qa_share = 0.0
    project.save()
    item = item_make(project)

    services.item_labels_save(item=item, user=labeller, base_version=0, regions=[], submit=True)

    item.refresh_from_db()
    assert (item.status, item.qa_selected) == (S.LABELLED, False)


def test_item_flag_sends_a_labelled_item_to_qa(project, labeller):
    project.qa_share = 0.0
    project.save()
    item = item_make(project)
    services.item_labels_save(item=item, user=labeller, base_version=0, regions=[], submit=True)

    services.item_flag(item=item, user=labeller, note="not sure this is a dent")

    item.refresh_from_db()
    assert (item.status, item.flagged, item.flag_note) == (
        S.IN_QA,
        True,
        "not sure this is a dent",
    )


def test_item_skip_then_label_again(project, labeller):
    item = item_make(project)

    services.item_skip(item=item, user=labeller)
    item.refresh_from_db()
    assert item.status == S.SKIPPED
    services.item_labels_save(item=item, user=labeller, base_version=0, regions=[])
    item.refresh_from_db()
    assert item.status == S.IN_PROGRESS


def _in_qa(project, labeller, regions_of):
    project.qa_share = 1.0
    project.save()
    item = item_make(project)
    services.item_labels_save(
        item=item, user=labeller, base_version=0, regions=regions_of(item), submit=True
    )
    item.refresh_from_db()
    return item


def test_item_qa_review_accept_unchanged_records_full_agreement(project, labeller, reviewer):
    item = _in_qa(project, labeller, lambda i: [region_in(i)])

    review = services.item_qa_review(item=item, reviewer=reviewer, outcome="accepted")

    assert (review.mean_iou, review.type_agreement, review.labeller) == (1.0, 1.0, labeller)
    item.refresh_from_db()
    assert item.status == S.ACCEPTED


def test_item_qa_review_with_corrections_measures_iou_and_type(project, labeller, reviewer):
    item = _in_qa(project, labeller, lambda i: [region_in(i, "dent", box=(0, 0, 20, 10))])
    # the reviewer keeps half the region and calls it a scratch
    corrected = [region_in(item, "scratch", box=(0, 0, 10, 10))]

    review = services.item_qa_review(
        item=item, reviewer=reviewer, outcome="accepted", regions=corrected
    )

    (row,) = review.agreement
    assert row["iou"] == pytest.approx(0.5)
    assert row["type_agrees"] is False
    assert review.type_agreement == 0.0
    labels = ItemLabels.objects.get(item=item)
    assert labels.version == 2 and labels.regions[0]["label"] == "scratch"


def test_item_qa_send_back_needs_a_note_and_returns_to_qa(project, labeller, reviewer):
    item = _in_qa(project, labeller, lambda i: [region_in(i)])

    with pytest.raises(ApplicationError) as exc:
        services.item_qa_review(item=item, reviewer=reviewer, outcome="sent_back", note=" ")
    assert exc.value.message == services.ERR_NOTE_REQUIRED

    services.item_qa_review(item=item, reviewer=reviewer, outcome="sent_back", note="edge")
    item.refresh_from_db()
    assert item.status == S.SENT_BACK
    services.item_labels_save(item=item, user=labeller, base_version=1, regions=[], submit=True)
    item.refresh_from_db()
    assert item.status == S.IN_QA
    assert QAReview.objects.filter(item=item).count() == 1


def test_item_qa_review_of_own_labels_is_refused(project, labeller):
    from labelling.models import ProjectMember
    from labelling.tests.factories import MemberFactory

    MemberFactory(project=project, user=labeller, role=ProjectMember.Role.REVIEWER)
    item = _in_qa(project, labeller, lambda i: [region_in(i)])

    with pytest.raises(ConflictError) as exc:
        services.item_qa_review(item=item, reviewer=labeller, outcome="accepted")

    assert exc.value.code == "own_work"


def test_region_agreement_counts_a_missed_region():
    a = np.zeros((10, 10), bool)
    a[:5] = True
    b = np.zeros((10, 10), bool)
    b[5:] = True

    rows, mean_iou, type_agreement = services.region_agreement(
        [("dent", a)], [("dent", a), ("scratch", b)]
    )

    assert [r["iou"] for r in rows] == [1.0, 0.0]
    assert mean_iou == 0.5
    assert type_agreement == 1.0


def test_item_ingest_unused_bytes_fixture_is_real():
    assert io.BytesIO(jpeg_bytes()).read(3) == b"\xff\xd8\xff"


def test_box_mask_is_on_the_item_grid(project):
    item = item_make(project)

    assert box_mask(item).shape == (item.mask_height, item.mask_width)
