"""The quality dashboard's pages (mounted at ``data/quality/``): the page and its CSV."""

from django.urls import path

from flywheel import quality_views

urlpatterns = [
    path("", quality_views.quality_page, name="data-quality"),
    path("quality.csv", quality_views.quality_csv, name="data-quality-csv"),
]
