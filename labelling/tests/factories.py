"""factory_boy factories for labelling, and builders of regions and items tests use."""

import io

import factory
import numpy as np
from factory.django import DjangoModelFactory

from claims.tests.factories import DataTeamFactory, UserFactory, jpeg_bytes
from labelling import photo_import
from labelling.models import LabellingProject, ProjectItem, ProjectMember
from ml.coco import mask_to_rle
from ml.labels import DEFAULT_LABEL_MAP


class ProjectFactory(DjangoModelFactory):
    class Meta:
        model = LabellingProject

    name = factory.Sequence(lambda n: f"Garage archive {n}")
    instructions = "Outline every dent and scratch."
    label_map = factory.LazyFunction(DEFAULT_LABEL_MAP.to_dict)
    qa_share = 0.2
    scratch_share = 0.0  # tests that measure the scratch draw set it themselves
    created_by = factory.SubFactory(DataTeamFactory)


class MemberFactory(DjangoModelFactory):
    class Meta:
        model = ProjectMember

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = ProjectMember.Role.LABELLER


def item_make(project: LabellingProject, *, name: str = "photo.jpg", data: bytes | None = None):
    """An item imported through the real service (validation, storage, working copy)."""
    result = photo_import.item_ingest(
        project=project, fileobj=io.BytesIO(data or jpeg_bytes()), name=name
    )
    return ProjectItem.objects.get(pk=result.item.pk)


def box_mask(item: ProjectItem, box=(10, 10, 40, 30)) -> np.ndarray:
    """A bool mask on the item's grid with the box ``(x, y, w, h)`` set."""
    mask = np.zeros((item.mask_height, item.mask_width), dtype=bool)
    x, y, w, h = box
    mask[y : y + h, x : x + w] = True
    return mask


def region_in(item: ProjectItem, label="dent", severity="minor", box=(10, 10, 40, 30), **extra):
    """A region as a client sends it (the save API's shape)."""
    return {
        "label": label,
        "severity": severity,
        "mask_rle": mask_to_rle(box_mask(item, box)),
        **extra,
    }
