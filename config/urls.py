"""Top-level URLs: the customer pages, the versioned API and its schema, and the admin."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/review/", include("review.api_urls")),
    path("api/v1/exports/", include("assessment.api_urls")),
    path("api/v1/", include("claims.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file (?script): no inline script,
    # so the page runs under the Content-Security-Policy like every other.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("review/", include("review.urls")),
    path("data/", include("assessment.export_urls")),
    path("", include("claims.urls")),
]
