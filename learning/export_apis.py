"""Label exports for the data team: start an export job, follow it, download its zip.

One view per action; the query, the job and the writing live in ``learning.exports``.
"""

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from claims.permissions import IsDataTeam
from config.pagination import PageNumberPagination
from config.parsers import JSONParser
from config.schema import PAGE_NOT_FOUND, PAGE_PARAMETER, error_response, page_of
from config.serializers import CappedListField, InputSerializer
from learning import exports
from learning.models import ExportJob
from ml.label_export import FORMATS


class ExportJobOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    formats = serializers.ListField(child=serializers.CharField())
    coco_polygons = serializers.BooleanField()
    filters = serializers.DictField()
    since_export = serializers.IntegerField(source="since_export_id", allow_null=True)
    counts = serializers.DictField()
    size_bytes = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    download_url = serializers.SerializerMethodField()

    def get_download_url(self, job: ExportJob) -> str | None:
        if job.status != ExportJob.Status.SUCCEEDED:
            return None
        return reverse("api-export-download", kwargs={"export_id": job.pk})


class ExportCollectionApi(APIView):
    """``GET`` lists the caller's export jobs; ``POST`` starts one on the ``exports`` queue."""

    permission_classes = [IsDataTeam]
    # Lists and nulls have no form encoding: the filters are JSON or nothing.
    parser_classes = [JSONParser]
    quota_scope = "exports"  # per-user quota on POST (config.throttling.UserQuotaThrottle)

    class InputSerializer(InputSerializer):
        # Lists are capped before any element is validated (config.serializers).
        formats = CappedListField(
            child=serializers.ChoiceField(choices=FORMATS),
            min_length=1,
            max_length=len(FORMATS),
            default=list(FORMATS),
        )
        coco_polygons = serializers.BooleanField(default=False)
        date_from = serializers.DateField(required=False, allow_null=True)
        date_to = serializers.DateField(
            required=False, allow_null=True, help_text="Not before `date_from` (400 otherwise)."
        )
        model_version = serializers.CharField(
            max_length=80,
            required=False,
            allow_blank=True,
            help_text="A registered model version (400 `invalid_model_version` otherwise).",
        )
        damage_types = CappedListField(
            child=serializers.CharField(max_length=60),
            required=False,
            max_length=50,
            help_text="Class names of the model version's label map (400 otherwise).",
        )
        include_predictions = serializers.BooleanField(default=False)
        split = serializers.ChoiceField(choices=exports.SPLITS, required=False, allow_null=True)
        since_export = serializers.IntegerField(
            required=False,
            allow_null=True,
            min_value=1,
            help_text="The id of one of your own exports (400 otherwise).",
        )
        project = serializers.IntegerField(
            required=False,
            allow_null=True,
            min_value=1,
            help_text="A labelling project: export its items instead of claims' photos "
            "(400 `invalid_project` for an unknown one).",
        )

    @extend_schema(
        operation_id="v1_exports_list",
        parameters=[PAGE_PARAMETER],
        responses={
            200: page_of("PaginatedExportJobList", ExportJobOutputSerializer(many=True)),
            404: PAGE_NOT_FOUND,
        },
        tags=["exports"],
    )
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            exports.export_job_list(user=request.user), request, view=self
        )
        return paginator.get_paginated_response(ExportJobOutputSerializer(page, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={
            202: ExportJobOutputSerializer,
            409: error_response("`no_label_map`: no model version is active to label with."),
        },
        tags=["exports"],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        query = exports.ExportQuery(
            date_from=v.get("date_from"),
            date_to=v.get("date_to"),
            model_version=v.get("model_version") or None,
            damage_types=tuple(sorted(set(v.get("damage_types") or ()))),
            include_predictions=v["include_predictions"],
            split=v.get("split"),
            since_export=v.get("since_export"),
            project=v.get("project"),
        )
        job = exports.export_job_create(
            user=request.user, formats=v["formats"], query=query, polygons=v["coco_polygons"]
        )
        return Response(ExportJobOutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ExportDetailApi(APIView):
    permission_classes = [IsDataTeam]

    @extend_schema(responses={200: ExportJobOutputSerializer}, tags=["exports"])
    def get(self, request: Request, export_id: str) -> Response:
        job = exports.export_job_get(user=request.user, export_id=export_id)
        return Response(ExportJobOutputSerializer(job).data)


class ExportDownloadApi(APIView):
    """Streams the finished zip from private storage (never read into memory)."""

    permission_classes = [IsDataTeam]

    @extend_schema(
        responses={
            (200, "application/zip"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The export's zip (docs/exports.md)."
            ),
            409: error_response("`export_not_ready`: the job has not succeeded (yet)."),
        },
        tags=["exports"],
    )
    def get(self, request: Request, export_id: str) -> FileResponse:
        job = exports.export_job_get(user=request.user, export_id=export_id)
        handle = exports.export_job_open(job=job)
        return FileResponse(
            handle,
            as_attachment=True,
            filename=f"claimvision-export-{job.pk}.zip",
            content_type="application/zip",
        )
