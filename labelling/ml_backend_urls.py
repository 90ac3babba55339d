"""The Label Studio ML-backend routes, mounted at ``ml-backend/`` by config/urls.py: Label Studio
is given ``<host>/ml-backend`` and appends ``/health``, ``/setup``, ``/predict`` itself."""

from django.urls import path

from labelling import ml_backend_views as views

app_name = "ml_backend"

urlpatterns = [
    path("", views.health_view, name="root"),
    path("health", views.health_view, name="health"),
    path("setup", views.setup_view, name="setup"),
    path("predict", views.predict_view, name="predict"),
    path("versions", views.versions_view, name="versions"),
    path("webhook", views.webhook_view, name="webhook"),
]
