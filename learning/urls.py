"""The data team's pages (mounted at ``data/``): the export page."""

from django.urls import path

from learning import export_views

urlpatterns = [
    path("exports/", export_views.export_page, name="data-exports"),
]
