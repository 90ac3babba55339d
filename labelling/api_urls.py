"""URLs of the labelling API (mounted at ``api/v1/labelling/``)."""

from django.urls import path

from labelling import apis

PROJECT = "projects/<str:project_id>/"
ITEM = PROJECT + "items/<str:item_id>/"

urlpatterns = [
    path("projects/", apis.ProjectCollectionApi.as_view(), name="api-labelling-projects"),
    path(PROJECT, apis.ProjectDetailApi.as_view(), name="api-labelling-project"),
    path(PROJECT + "members/", apis.ProjectMembersApi.as_view(), name="api-labelling-members"),
    path(
        PROJECT + "members/<str:user_id>/<str:role>/",
        apis.ProjectMemberDetailApi.as_view(),
        name="api-labelling-member",
    ),
    path(PROJECT + "progress/", apis.ProjectProgressApi.as_view(), name="api-labelling-progress"),
    path(
        PROJECT + "import/photo/",
        apis.ProjectImportPhotoApi.as_view(),
        name="api-labelling-import-photo",
    ),
    path(
        PROJECT + "import/zip/", apis.ProjectImportZipApi.as_view(), name="api-labelling-import-zip"
    ),
    path(
        PROJECT + "import/labels/",
        apis.ProjectImportLabelsApi.as_view(),
        name="api-labelling-import-labels",
    ),
    path(PROJECT + "items/", apis.ItemListApi.as_view(), name="api-labelling-items"),
    path(ITEM, apis.ItemDetailApi.as_view(), name="api-labelling-item"),
    path(ITEM + "image/", apis.ItemImageApi.as_view(), name="api-labelling-item-image"),
    path(ITEM + "labels/", apis.ItemLabelsApi.as_view(), name="api-labelling-item-labels"),
    path(ITEM + "flag/", apis.ItemFlagApi.as_view(), name="api-labelling-item-flag"),
    path(ITEM + "skip/", apis.ItemSkipApi.as_view(), name="api-labelling-item-skip"),
    path(ITEM + "qa/", apis.ItemQAReviewApi.as_view(), name="api-labelling-item-qa"),
]
