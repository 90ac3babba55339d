"""Labelling API (docs/labelling.md), mounted at ``/api/v1/labelling/``. One view per action;
the rules live in ``labelling.services`` / ``photo_import`` / ``label_import`` and the reads in
``labelling.selectors``.

Who may call: anyone signed in who is not only a customer (customers get 403). The data team
and admins manage every project; a labeller or reviewer sees the projects they are a member of,
and any other project is a 404.
"""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiRequest,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from claims.roles import Role, user_has_role, user_is_staff
from config.errors import ApplicationError, NotFoundError
from config.pagination import PageNumberPagination
from config.parsers import JSONParser
from config.schema import PAGE_NOT_FOUND, PAGE_PARAMETER, error_response, page_of
from config.serializers import (
    CappedJSONField,
    CappedListField,
    InputSerializer,
    NoInput,
    check_fields,
)
from labelling import label_import, photo_import, selectors, services
from labelling.models import ProjectItem, ProjectMember, QAReview
from review.apis import MaskRleField
from review.models import SEVERITIES

# One working day of active time: a larger figure from a screen is a clock bug, not work.
MAX_ACTIVE_MS = 8 * 3600 * 1000
# A region's mask as COCO RLE; the same bound as the review API's (review.apis).
MAX_MASK_JSON_BYTES = 256 * 1024
ERR_NO_FILE = "Send the file in the form field `file`."
ERR_ONE_FILE = "Send one file per request."
STALE = "`stale_labels`: saved again since `base_version` was loaded (see `details`)."
NOT_EDITABLE = "`item_not_editable` (with QA or accepted) or `stale_labels`."


class IsLabellingUser(BasePermission):
    """Staff and project members; a customer account never labels (403)."""

    message = "Customer accounts cannot use labelling projects."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user.is_authenticated:
            return False
        if user_is_staff(user) or user_has_role(user, Role.ADMIN):
            return True
        return not user_has_role(user, Role.CUSTOMER)


def _require_manager(request: Request) -> None:
    if not services.user_can_manage_projects(request.user):
        raise services.LabellingPermissionError(services.ERR_NOT_MANAGER)


# --------------------------------------------------------------------------- serializers


class LabellingProjectOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    instructions = serializers.CharField()
    label_map = serializers.DictField()
    qa_share = serializers.FloatField()
    scratch_share = serializers.FloatField()
    created_by = serializers.CharField(source="created_by.username")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    my_roles = serializers.SerializerMethodField()

    def get_my_roles(self, project) -> list[str]:
        user = self.context.get("user")
        return selectors.project_roles(project=project, user=user) if user else []


class LabellingMemberOutputSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    role = serializers.CharField()
    added_at = serializers.DateTimeField()


class LabellingItemOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    original_name = serializers.CharField()
    status = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    working_width = serializers.IntegerField()
    working_height = serializers.IntegerField()
    mask_width = serializers.IntegerField()
    mask_height = serializers.IntegerField()
    show_prelabels = serializers.BooleanField()
    flagged = serializers.BooleanField()
    flag_note = serializers.CharField()
    assigned_to = serializers.IntegerField(source="assigned_to_id", allow_null=True)
    time_on_task_ms = serializers.IntegerField()
    labels_version = serializers.SerializerMethodField()
    quality_warnings = serializers.ListField(child=serializers.DictField())
    prelabel_error = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_labels_version(self, item: ProjectItem) -> int:
        labels = getattr(item, "labels", None)
        return labels.version if labels is not None else 0


class LabellingPredictionOutputSerializer(serializers.Serializer):
    model_version = serializers.CharField(source="model_version.version")
    photo_confidence = serializers.FloatField()
    mask_width = serializers.IntegerField()
    mask_height = serializers.IntegerField()
    regions = serializers.ListField(child=serializers.DictField())
    created_at = serializers.DateTimeField()


class LabellingLabelsOutputSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    source = serializers.CharField()
    regions = serializers.ListField(child=serializers.DictField())
    labeller = serializers.IntegerField(source="labeller_id", allow_null=True)
    active_ms = serializers.IntegerField()
    saved_at = serializers.DateTimeField()


class LabellingItemDetailOutputSerializer(LabellingItemOutputSerializer):
    image_url = serializers.SerializerMethodField()
    prediction = serializers.SerializerMethodField()
    labels = serializers.SerializerMethodField()

    def get_image_url(self, item: ProjectItem) -> str:
        from django.urls import reverse

        return reverse(
            "api-labelling-item-image",
            kwargs={"project_id": item.project_id, "item_id": item.pk},
        )

    @extend_schema_field(LabellingPredictionOutputSerializer(allow_null=True))
    def get_prediction(self, item: ProjectItem) -> dict | None:
        prediction = selectors.item_prelabels(item=item)
        return LabellingPredictionOutputSerializer(prediction).data if prediction else None

    @extend_schema_field(LabellingLabelsOutputSerializer(allow_null=True))
    def get_labels(self, item: ProjectItem) -> dict | None:
        labels = getattr(item, "labels", None)
        return LabellingLabelsOutputSerializer(labels).data if labels is not None else None


class LabellingImportSummarySerializer(serializers.Serializer):
    imported = serializers.ListField(child=serializers.DictField())
    duplicates = serializers.ListField(child=serializers.DictField())
    refused = serializers.ListField(child=serializers.DictField())
    counts = serializers.DictField(child=serializers.IntegerField())


class LabellingLabelImportSummarySerializer(serializers.Serializer):
    imported = serializers.ListField(child=serializers.DictField())
    unmatched = serializers.ListField(child=serializers.DictField())
    skipped_regions = serializers.ListField(child=serializers.DictField())
    counts = serializers.DictField(child=serializers.IntegerField())


class LabellingProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())
    prelabelled = serializers.IntegerField()
    prelabelling_done = serializers.BooleanField()
    with_prediction = serializers.IntegerField()
    without_prelabels = serializers.IntegerField()
    flagged = serializers.IntegerField()


class LabellingQAReviewOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    outcome = serializers.CharField()
    note = serializers.CharField()
    labels_version = serializers.IntegerField()
    agreement = serializers.ListField(child=serializers.DictField())
    mean_iou = serializers.FloatField(allow_null=True)
    type_agreement = serializers.FloatField(allow_null=True)
    created_at = serializers.DateTimeField()


# A label map of a few dozen types with colours and severity rules is a few kB.
MAX_LABEL_MAP_JSON_BYTES = 64 * 1024


class LabellingRegionInputSerializer(InputSerializer):
    label = serializers.CharField(max_length=60)
    severity = serializers.ChoiceField(choices=SEVERITIES)
    # COCO compressed RLE on the item's mask grid, documented as the review API documents it.
    mask_rle = MaskRleField(max_bytes=MAX_MASK_JSON_BYTES)
    source_index = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    part = serializers.CharField(max_length=60, required=False, allow_blank=True)


# --------------------------------------------------------------------------- projects


class ProjectCollectionApi(APIView):
    """``GET`` the projects you may see; ``POST`` creates one (data team and admins)."""

    permission_classes = [IsLabellingUser]
    parser_classes = [JSONParser]

    class InputSerializer(InputSerializer):
        name = serializers.CharField(max_length=200)
        instructions = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
        label_map = CappedJSONField(
            max_bytes=MAX_LABEL_MAP_JSON_BYTES,
            required=False,
            help_text="An ml.labels label map (a JSON object); default: the active model's.",
        )
        qa_share = serializers.FloatField(min_value=0, max_value=1, default=0.2)
        scratch_share = serializers.FloatField(min_value=0, max_value=1, default=0.1)

    @extend_schema(
        operation_id="v1_labelling_projects_list",
        parameters=[PAGE_PARAMETER],
        responses={
            200: page_of(
                "PaginatedLabellingProjectList", LabellingProjectOutputSerializer(many=True)
            ),
            404: PAGE_NOT_FOUND,
        },
        tags=["labelling"],
    )
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            selectors.project_list(user=request.user), request, view=self
        )
        data = LabellingProjectOutputSerializer(
            page, many=True, context={"user": request.user}
        ).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        request=InputSerializer,
        responses={201: LabellingProjectOutputSerializer},
        tags=["labelling"],
    )
    def post(self, request: Request) -> Response:
        _require_manager(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_create(user=request.user, **data.validated_data)
        return Response(
            LabellingProjectOutputSerializer(project, context={"user": request.user}).data,
            status=status.HTTP_201_CREATED,
        )


class ProjectDetailApi(APIView):
    permission_classes = [IsLabellingUser]
    parser_classes = [JSONParser]

    class InputSerializer(InputSerializer):
        name = serializers.CharField(max_length=200, required=False)
        instructions = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
        qa_share = serializers.FloatField(min_value=0, max_value=1, required=False)
        scratch_share = serializers.FloatField(min_value=0, max_value=1, required=False)

    @extend_schema(responses={200: LabellingProjectOutputSerializer}, tags=["labelling"])
    def get(self, request: Request, project_id: str) -> Response:
        project = selectors.project_get(user=request.user, project_id=project_id)
        return Response(
            LabellingProjectOutputSerializer(project, context={"user": request.user}).data
        )

    @extend_schema(
        request=InputSerializer,
        responses={200: LabellingProjectOutputSerializer},
        tags=["labelling"],
    )
    def patch(self, request: Request, project_id: str) -> Response:
        # The input is checked before any object is looked up (docs/api.md).
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = selectors.project_get(user=request.user, project_id=project_id)
        _require_manager(request)
        project = services.project_update(user=request.user, project=project, **data.validated_data)
        return Response(
            LabellingProjectOutputSerializer(project, context={"user": request.user}).data
        )


class ProjectMembersApi(APIView):
    """``GET`` the project's members; ``POST`` adds one in a role (managers)."""

    permission_classes = [IsLabellingUser]
    parser_classes = [JSONParser]

    class InputSerializer(InputSerializer):
        username = serializers.CharField(max_length=150)
        role = serializers.ChoiceField(choices=ProjectMember.Role.values)

    @extend_schema(responses={200: LabellingMemberOutputSerializer(many=True)}, tags=["labelling"])
    def get(self, request: Request, project_id: str) -> Response:
        project = selectors.project_get(user=request.user, project_id=project_id)
        members = selectors.project_members(project=project)
        return Response(LabellingMemberOutputSerializer(members, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: LabellingMemberOutputSerializer},
        tags=["labelling"],
    )
    def post(self, request: Request, project_id: str) -> Response:
        # The input is checked before any object is looked up (docs/api.md).
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = selectors.project_get(user=request.user, project_id=project_id)
        _require_manager(request)
        member = selectors.user_by_username(username=data.validated_data["username"])
        membership = services.project_member_add(
            user=request.user, project=project, member=member, role=data.validated_data["role"]
        )
        return Response(
            LabellingMemberOutputSerializer(membership).data, status=status.HTTP_201_CREATED
        )


class ProjectMemberDetailApi(APIView):
    permission_classes = [IsLabellingUser]

    @extend_schema(request=None, responses={204: None}, tags=["labelling"])
    def delete(self, request: Request, project_id: str, user_id: str, role: str) -> Response:
        NoInput(data=request.data).is_valid(raise_exception=True)
        project = selectors.project_get(user=request.user, project_id=project_id)
        _require_manager(request)
        membership = selectors.project_membership_get(project=project, user_id=user_id, role=role)
        services.project_member_remove(
            user=request.user, project=project, member=membership.user, role=membership.role
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectProgressApi(APIView):
    permission_classes = [IsLabellingUser]

    @extend_schema(responses={200: LabellingProgressSerializer}, tags=["labelling"])
    def get(self, request: Request, project_id: str) -> Response:
        project = selectors.project_get(user=request.user, project_id=project_id)
        return Response(
            LabellingProgressSerializer(selectors.project_progress(project=project)).data
        )


# --------------------------------------------------------------------------- import


def _one_file(request: Request, serializer: serializers.Serializer):
    check_fields(serializer, request.data)  # an unknown field is named before a missing file
    uploads = request.FILES.getlist("file")
    if not uploads:
        raise ApplicationError(ERR_NO_FILE, code="file_missing")
    if len(uploads) > 1:
        raise ApplicationError(ERR_ONE_FILE, code="too_many_files")
    return uploads[0]


class LabellingFileInputSerializer(InputSerializer):
    # Bounded by the upload cap (claims.uploads), checked while the body streams.
    file = serializers.FileField()


class ProjectImportPhotoApi(APIView):
    """One photo, through the customers' upload checks; pre-labelled on the workers."""

    permission_classes = [IsLabellingUser]
    parser_classes = [MultiPartParser, FormParser]
    InputSerializer = LabellingFileInputSerializer

    @extend_schema(
        request={
            "multipart/form-data": OpenApiRequest(
                LabellingFileInputSerializer,
                encoding={"file": {"contentType": "image/jpeg, image/png, image/webp"}},
            )
        },
        responses={
            201: LabellingItemOutputSerializer,
            200: OpenApiResponse(
                LabellingItemOutputSerializer,
                description="A duplicate: the item already holding it.",
            ),
            415: error_response("`unsupported_image_type`: not a JPEG, PNG or WebP photo."),
            422: error_response("`empty_file`, `image_corrupt` or `image_too_many_pixels`."),
        },
        tags=["labelling"],
    )
    def post(self, request: Request, project_id: str) -> Response:
        upload = _one_file(request, self.InputSerializer())
        project = selectors.project_get(user=request.user, project_id=project_id)
        _require_manager(request)
        result = photo_import.item_ingest(
            project=project, fileobj=upload, name=upload.name or "", user=request.user
        )
        code = status.HTTP_200_OK if result.duplicate else status.HTTP_201_CREATED
        return Response(LabellingItemOutputSerializer(result.item).data, status=code)


class ProjectImportZipApi(APIView):
    """A zip of photos (up to the upload cap; larger archives: ``manage.py labelling_import``)."""

    permission_classes = [IsLabellingUser]
    parser_classes = [MultiPartParser, FormParser]
    InputSerializer = LabellingFileInputSerializer

    @extend_schema(
        request={
            "multipart/form-data": OpenApiRequest(
                LabellingFileInputSerializer, encoding={"file": {"contentType": "application/zip"}}
            )
        },
        responses={
            200: LabellingImportSummarySerializer,
            413: error_response("`zip_too_many_members` or `zip_too_large` (the whole archive)."),
            415: error_response("`not_a_zip`."),
        },
        tags=["labelling"],
    )
    def post(self, request: Request, project_id: str) -> Response:
        upload = _one_file(request, self.InputSerializer())
        project = selectors.project_get(user=request.user, project_id=project_id)
        _require_manager(request)
        summary = photo_import.items_import_zip(project=project, fileobj=upload, user=request.user)
        return Response(LabellingImportSummarySerializer(summary.to_dict()).data)


class ProjectImportLabelsApi(APIView):
    """Labels from COCO instances or a Label Studio JSON export, matched by file name."""

    permission_classes = [IsLabellingUser]
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(LabellingFileInputSerializer):
        format = serializers.ChoiceField(choices=label_import.FORMATS)

    @extend_schema(
        request={
            "multipart/form-data": OpenApiRequest(
                InputSerializer, encoding={"file": {"contentType": "application/json"}}
            )
        },
        responses={
            200: LabellingLabelImportSummarySerializer,
            422: error_response("`invalid_labels_file`: not JSON, or not the format named."),
        },
        tags=["labelling"],
    )
    def post(self, request: Request, project_id: str) -> Response:
        upload = _one_file(request, self.InputSerializer())
        fmt = self.InputSerializer().fields["format"].run_validation(request.data.get("format"))
        project = selectors.project_get(user=request.user, project_id=project_id)
        _require_manager(request)
        summary = label_import.labels_import(
            project=project, fileobj=upload, fmt=fmt, user=request.user
        )
        return Response(LabellingLabelImportSummarySerializer(summary.to_dict()).data)


# --------------------------------------------------------------------------- items


class ItemListApi(APIView):
    permission_classes = [IsLabellingUser]

    class FilterSerializer(InputSerializer):
        status = serializers.ChoiceField(choices=ProjectItem.Status.values, required=False)
        page = serializers.IntegerField(min_value=1, required=False)

    @extend_schema(
        operation_id="v1_labelling_items_list",
        parameters=[
            PAGE_PARAMETER,
            OpenApiParameter(
                "status",
                {"type": "string", "enum": ProjectItem.Status.values},
                OpenApiParameter.QUERY,
                required=False,
            ),
        ],
        responses={
            200: page_of("PaginatedLabellingItemList", LabellingItemOutputSerializer(many=True)),
            400: error_response("`invalid`: a filter is malformed (see `details.fields`)."),
            404: PAGE_NOT_FOUND,
        },
        tags=["labelling"],
    )
    def get(self, request: Request, project_id: str) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        project = selectors.project_get(user=request.user, project_id=project_id)
        items = selectors.item_list(project=project, status=filters.validated_data.get("status"))
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(items, request, view=self)
        return paginator.get_paginated_response(LabellingItemOutputSerializer(page, many=True).data)


class ItemDetailApi(APIView):
    """The item, its current labels and, unless it is a from-scratch item, the model's
    pre-labels (``prediction`` is null when ``show_prelabels`` is false)."""

    permission_classes = [IsLabellingUser]

    @extend_schema(responses={200: LabellingItemDetailOutputSerializer}, tags=["labelling"])
    def get(self, request: Request, project_id: str, item_id: str) -> Response:
        project = selectors.project_get(user=request.user, project_id=project_id)
        item = selectors.item_get(project=project, item_id=item_id)
        return Response(LabellingItemDetailOutputSerializer(item).data)


class ItemImageApi(APIView):
    """The metadata-free working copy, for members of the project. Originals are never served."""

    permission_classes = [IsLabellingUser]

    @extend_schema(
        responses={(200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="JPEG.")},
        tags=["labelling"],
    )
    def get(self, request: Request, project_id: str, item_id: str) -> FileResponse:
        project = selectors.project_get(user=request.user, project_id=project_id)
        item = selectors.item_get(project=project, item_id=item_id)
        try:
            handle = item.working.open("rb")
        except (FileNotFoundError, OSError):
            raise NotFoundError(selectors.ERR_IMAGE_MISSING, code="image_missing") from None
        response = FileResponse(handle, content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class ItemLabelsApi(APIView):
    """Save the item's labels: a new version, refused (409) from a stale ``base_version``."""

    permission_classes = [IsLabellingUser]
    # Nested regions have no form encoding: the labels are JSON only.
    parser_classes = [JSONParser]

    class InputSerializer(InputSerializer):
        base_version = serializers.IntegerField(min_value=0)
        regions = CappedListField(child=LabellingRegionInputSerializer(), max_length=100)
        active_ms = serializers.IntegerField(
            min_value=0, max_value=MAX_ACTIVE_MS, required=False, default=0
        )
        submit = serializers.BooleanField(
            required=False, default=False, help_text="Finish the item: to QA or labelled."
        )

    @extend_schema(
        request=InputSerializer,
        responses={200: LabellingLabelsOutputSerializer, 409: error_response(NOT_EDITABLE)},
        tags=["labelling"],
    )
    def put(self, request: Request, project_id: str, item_id: str) -> Response:
        # The input is checked before any object is looked up (docs/api.md).
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = selectors.project_get(user=request.user, project_id=project_id)
        item = selectors.item_get(project=project, item_id=item_id)
        v = data.validated_data
        labels = services.item_labels_save(
            item=item,
            user=request.user,
            base_version=v["base_version"],
            regions=[dict(r) for r in v["regions"]],
            active_ms=v["active_ms"],
            submit=v["submit"],
        )
        return Response(LabellingLabelsOutputSerializer(labels).data)


class ItemFlagApi(APIView):
    permission_classes = [IsLabellingUser]
    parser_classes = [JSONParser]

    class InputSerializer(InputSerializer):
        flagged = serializers.BooleanField(default=True)
        note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    @extend_schema(
        request=InputSerializer, responses={200: LabellingItemOutputSerializer}, tags=["labelling"]
    )
    def post(self, request: Request, project_id: str, item_id: str) -> Response:
        # The input is checked before any object is looked up (docs/api.md).
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = selectors.project_get(user=request.user, project_id=project_id)
        item = selectors.item_get(project=project, item_id=item_id)
        item = services.item_flag(item=item, user=request.user, **data.validated_data)
        return Response(LabellingItemOutputSerializer(item).data)


class ItemSkipApi(APIView):
    permission_classes = [IsLabellingUser]

    @extend_schema(
        request=None,
        responses={
            200: LabellingItemOutputSerializer,
            409: error_response("`item_not_skippable`: labelled, with QA or accepted."),
        },
        tags=["labelling"],
    )
    def post(self, request: Request, project_id: str, item_id: str) -> Response:
        NoInput(data=request.data).is_valid(raise_exception=True)
        project = selectors.project_get(user=request.user, project_id=project_id)
        item = selectors.item_get(project=project, item_id=item_id)
        item = services.item_skip(item=item, user=request.user)
        return Response(LabellingItemOutputSerializer(item).data)


class ItemQAReviewApi(APIView):
    """A reviewer accepts the item's labels or sends them back with a note."""

    permission_classes = [IsLabellingUser]
    parser_classes = [JSONParser]

    class InputSerializer(InputSerializer):
        outcome = serializers.ChoiceField(choices=QAReview.Outcome.values)
        note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
        regions = CappedListField(
            child=LabellingRegionInputSerializer(),
            max_length=100,
            required=False,
            help_text="The reviewer's corrected regions, if any (agreement is measured on them).",
        )

    @extend_schema(
        request=InputSerializer,
        responses={
            201: LabellingQAReviewOutputSerializer,
            409: error_response("`item_not_in_qa`, `no_labels` or `own_work`."),
        },
        tags=["labelling"],
    )
    def post(self, request: Request, project_id: str, item_id: str) -> Response:
        # The input is checked before any object is looked up (docs/api.md).
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = selectors.project_get(user=request.user, project_id=project_id)
        item = selectors.item_get(project=project, item_id=item_id)
        v = data.validated_data
        regions = v.get("regions")
        review = services.item_qa_review(
            item=item,
            reviewer=request.user,
            outcome=v["outcome"],
            note=v["note"],
            regions=[dict(r) for r in regions] if regions is not None else None,
        )
        return Response(
            LabellingQAReviewOutputSerializer(review).data, status=status.HTTP_201_CREATED
        )
