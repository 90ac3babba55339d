"""URLs of the data team's export API (mounted at ``api/v1/exports/``)."""

from django.urls import path

from learning import export_apis

urlpatterns = [
    path("", export_apis.ExportCollectionApi.as_view(), name="api-exports"),
    path("<str:export_id>/", export_apis.ExportDetailApi.as_view(), name="api-export-detail"),
    path(
        "<str:export_id>/download/",
        export_apis.ExportDownloadApi.as_view(),
        name="api-export-download",
    ),
]
