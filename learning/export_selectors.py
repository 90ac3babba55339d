"""Reads for the data team's export page (the export API's own reads are in ``exports``)."""

from assessment.models import ModelVersion


def export_model_versions() -> list[dict[str, str]]:
    """Model versions to filter an export by, newest first: the version and its status."""
    rows = ModelVersion.objects.order_by("-created_at", "-id").values_list("version", "status")
    return [{"version": version, "status": status} for version, status in rows]
