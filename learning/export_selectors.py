"""Reads for the data team's export page (the export API's own reads are in ``exports``)."""

from assessment.models import ModelVersion


def export_model_versions() -> list[dict[str, str]]:
    """Model versions to filter an export by, newest first: the version and its status."""
    rows = ModelVersion.objects.order_by("-created_at", "-id").values_list("version", "status")
    return [{"version": version, "status": status} for version, status in rows]


def export_projects(*, user) -> list[dict]:
    """Labelling projects ``user`` may see (``labelling.selectors.project_list``: the data team
    sees all of them, anyone else their own), to export instead of claims, newest first."""
    from labelling.selectors import project_list

    rows = project_list(user=user).values_list("id", "name")
    return [{"id": pk, "name": name} for pk, name in rows]
