"""URLs of the assessment stage's customer API, mounted at ``api/v1/`` beside the claims it
belongs to (config/urls.py). Ids are matched as strings so a malformed id is a JSON 404."""

from django.urls import path

from assessment.apis import ClaimContestApi

urlpatterns = [
    path("claims/<str:claim_id>/contest/", ClaimContestApi.as_view(), name="api-claim-contest"),
]
