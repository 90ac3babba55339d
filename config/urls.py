"""Top-level URLs, the composition root: every stage's URLs are mounted here and nowhere else
(docs/architecture.md). The customer pages, the versioned API and its schema, the language switch
and the scripts' translations, and the admin."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from claims import views as claim_views
from config.metrics_views import metrics_view

urlpatterns = [
    # Deprecated (issue 12): retraining runs and label exports moved from the assessment app to
    # the learning app; staff bookmarks of their old admin pages are redirected for now.
    re_path(
        r"^admin/assessment/(?P<model>retrainingrun|exportjob)/(?P<rest>.*)$",
        RedirectView.as_view(url="/admin/learning/%(model)s/%(rest)s", query_string=True),
    ),
    path("admin/", admin.site.urls),
    path("api/v1/review/", include("review.api_urls")),
    path("api/v1/exports/", include("learning.api_urls")),
    path("api/v1/labelling/", include("labelling.api_urls")),
    path("api/v1/", include("assessment.api_urls")),
    path("api/v1/", include("claims.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file (?script): no inline script,
    # so the page runs under the Content-Security-Policy like every other.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # The language switch of the customer pages (POST, CSRF; saved to the account too).
    path("i18n/language/", claim_views.language_set, name="language-set"),
    # The customer scripts' strings in the request's language: a same-origin script file
    # (no inline script, no eval), so it runs under the Content-Security-Policy.
    path("i18n/catalog.js", JavaScriptCatalog.as_view(packages=["claims"]), name="js-catalog"),
    # Prometheus scrapes, with the metrics token or a staff sign-in (docs/operations.md).
    path("metrics", metrics_view, name="metrics"),
    # Label Studio's ML-backend protocol: the model's pre-labels in Label Studio (its own
    # request shapes, outside the API schema; docs/labelling-ml-backend.md).
    path("ml-backend/", include("labelling.ml_backend_urls")),
    path("review/", include("review.urls")),
    path("labelling/", include("labelling.urls")),
    path("data/quality/", include("flywheel.urls")),
    path("data/", include("learning.urls")),
    path("", include("claims.urls")),
]
