"""URLs of the review API (adjusters only), mounted at /api/v1/review/.

Ids are matched as strings so a malformed id is a JSON 404, not HTML.
"""

from django.urls import path

from review import apis

urlpatterns = [
    path("queue/", apis.ReviewQueueApi.as_view(), name="api-review-queue"),
    path("claims/<str:claim_id>/", apis.ReviewClaimDetailApi.as_view(), name="api-review-claim"),
    path("claims/<str:claim_id>/lock/", apis.ReviewLockApi.as_view(), name="api-review-lock"),
    path(
        "claims/<str:claim_id>/notes/", apis.ReviewNoteCreateApi.as_view(), name="api-review-notes"
    ),
    path(
        "claims/<str:claim_id>/estimate/",
        apis.ReviewEstimatePreviewApi.as_view(),
        name="api-review-estimate",
    ),
    path(
        "claims/<str:claim_id>/estimate/adjustments/",
        apis.ReviewEstimateAdjustmentApi.as_view(),
        name="api-review-estimate-adjustments",
    ),
    path(
        "claims/<str:claim_id>/decision/",
        apis.ReviewDecisionApi.as_view(),
        name="api-review-decision",
    ),
    path(
        "claims/<str:claim_id>/photos/<str:photo_id>/image/",
        apis.ReviewPhotoImageApi.as_view(),
        name="api-review-photo-image",
    ),
    path(
        "claims/<str:claim_id>/photos/<str:photo_id>/labels/",
        apis.ReviewPhotoLabelsApi.as_view(),
        name="api-review-photo-labels",
    ),
]
