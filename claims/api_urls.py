"""URLs of API v1. Ids are matched as strings so a malformed id is a JSON 404, not HTML."""

from django.urls import path

from claims import apis

urlpatterns = [
    path("auth/register/", apis.RegisterApi.as_view(), name="api-register"),
    path("auth/token/", apis.TokenApi.as_view(), name="api-token"),
    path("claims/", apis.ClaimCollectionApi.as_view(), name="api-claims"),
    path("claims/<str:claim_id>/", apis.ClaimDetailApi.as_view(), name="api-claim-detail"),
    path("claims/<str:claim_id>/submit/", apis.ClaimSubmitApi.as_view(), name="api-claim-submit"),
    path("claims/<str:claim_id>/photos/", apis.PhotoUploadApi.as_view(), name="api-photo-upload"),
    path(
        "claims/<str:claim_id>/photos/<str:photo_id>/",
        apis.PhotoDetailApi.as_view(),
        name="api-photo-detail",
    ),
    path(
        "claims/<str:claim_id>/photos/<str:photo_id>/image/",
        apis.PhotoImageApi.as_view(),
        name="api-photo-image",
    ),
]
