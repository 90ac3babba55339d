"""Review API for adjusters (docs/review-api.md). One view per action; logic in services and
selectors. Customers and the data team get 403 on every endpoint.

Its length (about 500 lines) is one short view per endpoint with its schema annotations and
input serializer beside it; the logic lives in review's services and selectors modules.
"""

from django.http import FileResponse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from assessment.serializers import (
    DamagedPartSerializer,
    DecisionSerializer,
    EvidenceRefSerializer,
    StaffClaimAssessmentSerializer,
)
from claims import services as claims_services
from claims.apis import VehicleSerializer
from claims.permissions import IsAdjuster
from config.pagination import PageNumberPagination
from config.parsers import JSONParser
from config.schema import PAGE_NOT_FOUND, PAGE_PARAMETER, error_response, page_of
from config.serializers import CappedJSONField, InputSerializer, NoInput, QueryBooleanField
from review import estimate_selectors, locks, queue_selectors, selectors, services
from review import labels as review_labels
from review.models import ADJUSTMENT_OPERATIONS, REGION_ORIGINS, SEVERITIES

# One working day of active time: a larger figure from a screen is a clock bug, not work.
MAX_ACTIVE_MS = 8 * 3600 * 1000
NOT_IN_REVIEW = "`claim_not_in_review`: the claim is not waiting for a person."
LOCKED = "`claim_locked`: another adjuster holds the claim (see `details`), or you hold no lock."
SENIOR_ONLY = (
    "`permission_denied`: the caller is not an adjuster. `senior_adjuster_required`: the "
    "customer contests a decision on this claim, and only a senior adjuster may take or decide it."
)
# A region's mask as COCO RLE: a few hundred bytes for a real dent; 256 KiB is a mask of
# ~100,000 runs, past any drawing on the largest mask grid, yet cheap to refuse.
MAX_MASK_JSON_BYTES = 256 * 1024


class LockOutputSerializer(serializers.Serializer):
    adjuster = serializers.CharField()
    expires_at = serializers.DateTimeField()
    mine = serializers.BooleanField()


class ReasonOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ReasonGroupOutputSerializer(serializers.Serializer):
    """Reasons of one code with their count, most important first (review.selectors)."""

    code = serializers.CharField()
    title = serializers.CharField()
    count = serializers.IntegerField()
    messages = serializers.ListField(child=serializers.CharField())
    detail = serializers.CharField(allow_blank=True)  # the customer's words, for a contest


class MaskRleSerializer(serializers.Serializer):
    size = serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2)
    counts = serializers.CharField(trim_whitespace=False)


@extend_schema_field(MaskRleSerializer)
class MaskRleField(CappedJSONField):
    """A region's mask as COCO RLE, documented as such; its content (the grid's size, counts
    that decode) is checked by the service, with codes the screen can act on."""


class LabelRegionOutputSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    label = serializers.CharField()
    severity = serializers.CharField()
    mask_rle = MaskRleSerializer()
    source_index = serializers.IntegerField(allow_null=True)
    origin = serializers.ChoiceField(choices=REGION_ORIGINS)
    # The part the adjuster chose; null: the source region's part (or none).
    part = serializers.CharField(allow_null=True)
    bbox = serializers.ListField(child=serializers.IntegerField())
    area = serializers.IntegerField()


class LabelsOutputSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    adjuster = serializers.CharField()
    saved_at = serializers.DateTimeField()
    active_ms = serializers.IntegerField()
    regions = LabelRegionOutputSerializer(many=True)


class LedgerEntryOutputSerializer(serializers.Serializer):
    action = serializers.CharField()
    source_index = serializers.IntegerField(allow_null=True)
    region_index = serializers.IntegerField(allow_null=True)
    iou = serializers.FloatField(allow_null=True)
    model_confidence = serializers.FloatField(allow_null=True)
    from_label = serializers.CharField(allow_blank=True)
    to_label = serializers.CharField(allow_blank=True)
    from_severity = serializers.CharField(allow_blank=True)
    to_severity = serializers.CharField(allow_blank=True)
    from_part = serializers.CharField(allow_blank=True)
    to_part = serializers.CharField(allow_blank=True)
    adjuster = serializers.CharField()
    active_ms = serializers.IntegerField()
    model_version = serializers.CharField()
    labels_version = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class PredictedRegionOutputSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    label = serializers.CharField()
    severity = serializers.CharField()
    confidence = serializers.FloatField()
    mask_rle = MaskRleSerializer()
    polygon = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))
    bbox = serializers.ListField(child=serializers.IntegerField())
    part = serializers.CharField(allow_null=True)  # car part under the region, if known
    part_share = serializers.FloatField(allow_null=True)


class ReviewPhotoOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    image_url = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    quality_warnings = serializers.ListField(child=serializers.DictField())
    duplicate = serializers.BooleanField()
    mask_width = serializers.IntegerField(allow_null=True)
    mask_height = serializers.IntegerField(allow_null=True)
    model_version = serializers.CharField(allow_null=True)
    photo_confidence = serializers.FloatField(allow_null=True)
    predicted = PredictedRegionOutputSerializer(many=True)
    labels = LabelsOutputSerializer(allow_null=True)
    active_ms = serializers.IntegerField()


class LabelClassSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    colour = serializers.CharField()
    display = serializers.CharField()  # the name people read (label map), for every page


class LabelMapSerializer(serializers.Serializer):
    classes = LabelClassSerializer(many=True)


class HistoryOutputSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    actor = serializers.CharField()
    outcome = serializers.CharField()
    summary = serializers.CharField(allow_blank=True)


class NoteOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    author = serializers.CharField()
    text = serializers.CharField()
    created_at = serializers.DateTimeField()


class ActiveTimeOutputSerializer(serializers.Serializer):
    claim_ms = serializers.IntegerField()
    photos_ms = serializers.IntegerField()


class PartChoiceSerializer(serializers.Serializer):
    name = serializers.CharField()
    display_name = serializers.CharField()


class EstimateAdjustmentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.CharField()
    part = serializers.CharField()
    operation = serializers.CharField()
    to_operation = serializers.CharField(allow_blank=True)
    labour_hours = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    parts_cost = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    before = serializers.JSONField()
    adjuster = serializers.CharField()
    created_at = serializers.DateTimeField()


class ReviewClaimOutputSerializer(serializers.Serializer):
    """The claim on the review screen (docs/review-api.md)."""

    id = serializers.UUIDField(source="claim.id")
    reference = serializers.CharField(source="claim.reference")
    status = serializers.CharField(source="claim.status")
    vehicle = VehicleSerializer(source="claim")
    incident_date = serializers.DateField(source="claim.incident_date")
    description = serializers.CharField(source="claim.description")
    submitted_at = serializers.DateTimeField(source="claim.submitted_at")
    decision = DecisionSerializer(allow_null=True)
    reason_groups = ReasonGroupOutputSerializer(many=True)
    assessment = StaffClaimAssessmentSerializer(allow_null=True)
    label_map = LabelMapSerializer()
    severities = serializers.ListField(child=serializers.CharField())
    parts = PartChoiceSerializer(many=True)  # the part select of a region, and of a new line
    operations = serializers.ListField(child=serializers.CharField())
    estimate_adjustments = EstimateAdjustmentOutputSerializer(many=True)
    history = HistoryOutputSerializer(many=True)
    notes = NoteOutputSerializer(many=True)
    lock = LockOutputSerializer(allow_null=True)
    photos = ReviewPhotoOutputSerializer(many=True)
    active_time = ActiveTimeOutputSerializer()


def _claim_response(request: Request, claim_id, status_code: int = status.HTTP_200_OK):
    claim = selectors.review_claim_get(claim_id=claim_id)
    detail = selectors.review_claim_detail(claim=claim, user=request.user)
    context = {"blind": detail["random_audit"]}
    return Response(ReviewClaimOutputSerializer(detail, context=context).data, status=status_code)


class QueueCountsSerializer(serializers.Serializer):
    """Counts over the whole queue, whatever the filters."""

    total = serializers.IntegerField()
    mine = serializers.IntegerField()
    locked_by_others = serializers.IntegerField()
    by_reason = serializers.DictField(child=serializers.IntegerField())
    senior_review = serializers.IntegerField(
        help_text="Contested claims waiting in the senior adjusters' queue (listed to them only)."
    )


class ReviewQueueApi(APIView):
    permission_classes = [IsAdjuster]

    class FilterSerializer(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, max_length=60)
        damage_type = serializers.CharField(required=False, allow_blank=True, max_length=60)
        min_age_hours = serializers.FloatField(required=False, min_value=0)
        mine = QueryBooleanField(required=False, default=False)
        senior_review = QueryBooleanField(
            required=False,
            default=False,
            help_text="Only the senior adjusters' queue: claims whose customer contests a "
            "decision (a senior adjuster's list; empty for anyone else).",
        )

    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        reference = serializers.CharField()
        status = serializers.CharField()
        waiting_since = serializers.DateTimeField()
        waiting_hours = serializers.FloatField()
        sla_hours = serializers.FloatField()
        sla_breached = serializers.BooleanField()
        priority = serializers.FloatField()
        estimate_total = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
        currency = serializers.CharField(allow_blank=True)
        min_photo_confidence = serializers.FloatField(allow_null=True)
        reasons = ReasonOutputSerializer(many=True)
        reason_groups = ReasonGroupOutputSerializer(many=True)
        damage_types = serializers.ListField(child=serializers.CharField())
        photo_count = serializers.IntegerField()
        lock = LockOutputSerializer(allow_null=True)
        senior_review = serializers.BooleanField(
            help_text="A customer contests a decision on this claim: a senior adjuster decides."
        )

    @extend_schema(
        operation_id="v1_review_queue_list",
        parameters=[FilterSerializer, PAGE_PARAMETER],
        responses={
            200: page_of(
                "PaginatedReviewQueue", OutputSerializer(many=True), counts=QueueCountsSerializer()
            ),
            400: error_response("`invalid`: a filter is malformed (see `details.fields`)."),
            404: PAGE_NOT_FOUND,
        },
        tags=["review"],
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        queue = queue_selectors.review_queue_list(
            user=request.user,
            reason=data.get("reason") or None,
            damage_type=data.get("damage_type") or None,
            min_age_hours=data.get("min_age_hours"),
            mine=data.get("mine", False),
            senior_review=data.get("senior_review", False),
        )
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(queue.rows, request, view=self)
        return Response(
            {
                "count": paginator.page.paginator.count,
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "counts": queue.counts,
                "results": self.OutputSerializer(page, many=True).data,
            }
        )


# Non-negative decimals with at most two places, as strings (the API's decimal format; a JSON
# number is accepted too). The schema states the bounds the field checks, so a client (and the
# contract test) can tell a valid value from an invalid one.
@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": r"^\d{1,4}(?:\.\d{1,2})?$", "nullable": True}
)
class HoursField(serializers.DecimalField):
    pass


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": r"^\d{1,8}(?:\.\d{1,2})?$", "nullable": True}
)
class AmountField(serializers.DecimalField):
    pass


class AdjustmentInputSerializer(InputSerializer):
    """One line edit: ``add`` a line (part, operation; hours and parts cost, else the price
    table's), ``remove`` the line (part, operation), ``change`` it (``to_operation``, hours or
    parts cost)."""

    action = serializers.ChoiceField(choices=["add", "remove", "change"])
    part = serializers.CharField(max_length=60)
    operation = serializers.ChoiceField(choices=ADJUSTMENT_OPERATIONS)
    to_operation = serializers.ChoiceField(
        choices=ADJUSTMENT_OPERATIONS, required=False, allow_blank=True, default=""
    )
    labour_hours = HoursField(
        max_digits=6, decimal_places=2, min_value=0, required=False, allow_null=True, default=None
    )
    parts_cost = AmountField(
        max_digits=10, decimal_places=2, min_value=0, required=False, allow_null=True, default=None
    )


class ReviewClaimDetailApi(APIView):
    permission_classes = [IsAdjuster]

    @extend_schema(responses={200: ReviewClaimOutputSerializer}, tags=["review"])
    def get(self, request: Request, claim_id: str) -> Response:
        return _claim_response(request, claim_id)


class ReviewLockApi(APIView):
    """``POST`` takes or renews the lock; ``DELETE`` gives the claim back."""

    permission_classes = [IsAdjuster]

    class InputSerializer(InputSerializer):
        active_ms = serializers.IntegerField(
            required=False, default=0, min_value=0, max_value=MAX_ACTIVE_MS
        )

    @extend_schema(
        request=InputSerializer,
        responses={
            200: LockOutputSerializer,
            403: error_response(SENIOR_ONLY),
            409: error_response(f"{NOT_IN_REVIEW} {LOCKED}"),
        },
        tags=["review"],
    )
    def post(self, request: Request, claim_id: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        claim = selectors.review_claim_get(claim_id=claim_id)
        lock = locks.review_lock_take(
            claim=claim, adjuster=request.user, active_ms=data.validated_data["active_ms"]
        )
        body = {
            "adjuster": request.user.get_username(),
            "expires_at": lock.expires_at,
            "mine": True,
        }
        return Response(LockOutputSerializer(body).data)

    @extend_schema(
        request=None,
        responses={204: None, 409: error_response("`claim_locked`: another adjuster holds it.")},
        tags=["review"],
    )
    def delete(self, request: Request, claim_id: str) -> Response:
        NoInput(data=request.data).is_valid(raise_exception=True)
        claim = selectors.review_claim_get(claim_id=claim_id)
        locks.review_lock_release(claim=claim, adjuster=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReviewPhotoImageApi(APIView):
    """The metadata-free working copy of a photo, for adjusters. Originals are never served."""

    permission_classes = [IsAdjuster]

    @extend_schema(responses={(200, "image/jpeg"): bytes}, tags=["review"])
    def get(self, request: Request, claim_id: str, photo_id: str) -> FileResponse:
        photo = selectors.review_photo_get(claim_id=claim_id, photo_id=photo_id)
        claims_services.photo_working_ensure(photo=photo)  # a lost copy is rebuilt
        response = FileResponse(photo.working.open("rb"), content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class ReviewPhotoLabelsApi(APIView):
    permission_classes = [IsAdjuster]
    # Nested regions have no form encoding: the labels are JSON only.
    parser_classes = [JSONParser]

    class InputSerializer(InputSerializer):
        class RegionSerializer(InputSerializer):
            label = serializers.CharField(max_length=60)
            severity = serializers.CharField(max_length=20)
            source_index = serializers.IntegerField(
                required=False, allow_null=True, default=None, min_value=0
            )
            # A part map name the adjuster chose; blank: the source region's part.
            part = serializers.CharField(
                required=False, allow_blank=True, allow_null=True, default="", max_length=60
            )
            mask_rle = MaskRleField(max_bytes=MAX_MASK_JSON_BYTES)

        base_version = serializers.IntegerField(min_value=0)
        active_ms = serializers.IntegerField(
            required=False, default=0, min_value=0, max_value=MAX_ACTIVE_MS
        )
        # The cap is checked before any region is validated (ListSerializer does so).
        regions = RegionSerializer(
            many=True, allow_empty=True, max_length=review_labels.MAX_REGIONS_PER_PHOTO
        )

    class OutputSerializer(serializers.Serializer):
        labels = LabelsOutputSerializer()
        ledger = LedgerEntryOutputSerializer(many=True)

    @extend_schema(
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            409: error_response(
                f"{NOT_IN_REVIEW} {LOCKED} `photo_not_assessed`, or `stale_labels` (the "
                "labels changed since `base_version`; `details.current_version`)."
            ),
        },
        tags=["review"],
    )
    def put(self, request: Request, claim_id: str, photo_id: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        photo = selectors.review_photo_get(claim_id=claim_id, photo_id=photo_id)
        labels, ledger = review_labels.photo_labels_save(
            claim=photo.claim,
            photo=photo,
            adjuster=request.user,
            base_version=data.validated_data["base_version"],
            regions=[dict(r) for r in data.validated_data["regions"]],
            active_ms=data.validated_data["active_ms"],
        )
        body = {
            "labels": selectors.labels_view(labels),
            "ledger": [selectors.ledger_view(entry) for entry in ledger],
        }
        return Response(self.OutputSerializer(body).data)


class ReviewNoteCreateApi(APIView):
    permission_classes = [IsAdjuster]

    class InputSerializer(InputSerializer):
        text = serializers.CharField(max_length=5000)

    @extend_schema(request=InputSerializer, responses={201: NoteOutputSerializer}, tags=["review"])
    def post(self, request: Request, claim_id: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        claim = selectors.review_claim_get(claim_id=claim_id)
        note = services.review_note_add(
            claim=claim, author=request.user, text=data.validated_data["text"]
        )
        body = {
            "id": note.pk,
            "author": request.user.get_username(),
            "text": note.text,
            "created_at": note.created_at,
        }
        return Response(NoteOutputSerializer(body).data, status=status.HTTP_201_CREATED)


class ReviewDecisionApi(APIView):
    permission_classes = [IsAdjuster]

    class InputSerializer(InputSerializer):
        outcome = serializers.ChoiceField(choices=sorted(services.ACTION_OUTCOMES))
        reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)
        message_to_customer = serializers.CharField(
            max_length=2000, required=False, allow_blank=True
        )
        active_ms = serializers.IntegerField(
            required=False, default=0, min_value=0, max_value=MAX_ACTIVE_MS
        )

    @extend_schema(
        request=InputSerializer,
        responses={
            200: ReviewClaimOutputSerializer,
            403: error_response(SENIOR_ONLY),
            409: error_response(
                f"{NOT_IN_REVIEW} {LOCKED} `no_corrections`. `contest_needs_another_adjuster`: "
                "the contested decision is yours."
            ),
        },
        tags=["review"],
    )
    def post(self, request: Request, claim_id: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        claim = selectors.review_claim_get(claim_id=claim_id)
        services.review_decide(
            claim=claim,
            adjuster=request.user,
            action=data.validated_data["outcome"],
            reason=data.validated_data.get("reason", ""),
            message_to_customer=data.validated_data.get("message_to_customer", ""),
            active_ms=data.validated_data["active_ms"],
        )
        return _claim_response(request, claim_id)


class ReviewEstimatePreviewApi(APIView):
    """The estimate the corrections on screen would give, priced by the server's own code, and
    what each decision would record: for the live sidebar estimate and the confirm step."""

    permission_classes = [IsAdjuster]
    parser_classes = [JSONParser]

    class InputSerializer(InputSerializer):
        class PhotoSerializer(InputSerializer):
            class RegionSerializer(InputSerializer):
                label = serializers.CharField(max_length=60)
                severity = serializers.CharField(max_length=20)
                # The model region it started from (the screen's sourceIndex): the region is
                # on that region's part; without it, it is priced per region by damage type.
                source_index = serializers.IntegerField(
                    min_value=0, required=False, allow_null=True
                )
                # The part the adjuster chose (blank: the source region's part).
                part = serializers.CharField(
                    required=False, allow_blank=True, allow_null=True, max_length=60
                )

            photo_id = serializers.UUIDField()
            regions = RegionSerializer(
                many=True, allow_empty=True, max_length=review_labels.MAX_REGIONS_PER_PHOTO
            )

        # Photos with unsaved edits; any other photo counts with its saved labels, else the
        # model's regions (as the decision counts it).
        photos = PhotoSerializer(many=True, allow_empty=True, max_length=100)
        # Unsaved line edits, applied after the claim's saved ones (a what-if; the screen saves
        # each edit with POST estimate/adjustments/ and sends none here).
        adjustments = AdjustmentInputSerializer(
            many=True, required=False, default=list, max_length=200
        )

    class OutputSerializer(serializers.Serializer):
        class EstimateSerializer(serializers.Serializer):
            class LineSerializer(serializers.Serializer):
                # A line by part: its best evidence; ``evidence`` lists every region.
                photo_id = serializers.CharField()
                region_index = serializers.IntegerField()
                part = serializers.CharField(allow_blank=True)  # "": priced per region
                evidence = EvidenceRefSerializer(many=True)
                damage_type = serializers.CharField()
                severity = serializers.ChoiceField(choices=SEVERITIES)
                operation = serializers.CharField()
                description = serializers.CharField()
                labour_hours = serializers.DecimalField(max_digits=6, decimal_places=2)
                hourly_rate = serializers.DecimalField(max_digits=8, decimal_places=2)
                parts_cost = serializers.DecimalField(max_digits=10, decimal_places=2)
                total = serializers.DecimalField(max_digits=12, decimal_places=2)

            class SkippedSerializer(serializers.Serializer):
                action = serializers.CharField()
                part = serializers.CharField()
                operation = serializers.CharField()
                to_operation = serializers.CharField(allow_blank=True)

            class UnpricedSerializer(serializers.Serializer):
                photo_id = serializers.CharField()
                region_index = serializers.IntegerField()
                damage_type = serializers.CharField()
                severity = serializers.CharField()
                part = serializers.CharField(allow_blank=True)
                operation = serializers.CharField(allow_blank=True)
                # unknown_part, no_part_price, no_repair_time or no_price_rule
                reason = serializers.CharField()

            currency = serializers.CharField()
            total = serializers.DecimalField(max_digits=12, decimal_places=2)
            parts = DamagedPartSerializer(many=True)
            lines = LineSerializer(many=True)
            unpriced = UnpricedSerializer(many=True)
            # Line edits that could not apply (a line on a part with no damage now, or an
            # operation the part already has a line for).
            skipped_adjustments = SkippedSerializer(many=True)

        class ModelEstimateSerializer(serializers.Serializer):
            total = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
            currency = serializers.CharField()
            source = serializers.CharField(allow_blank=True)

        class OutcomeSerializer(serializers.Serializer):
            outcome = serializers.CharField()
            reason_required = serializers.BooleanField()
            customer_message = serializers.CharField()
            estimate_total = serializers.DecimalField(
                max_digits=12, decimal_places=2, allow_null=True
            )

        corrected = EstimateSerializer()
        model = ModelEstimateSerializer()
        outcomes = OutcomeSerializer(many=True)

    @extend_schema(
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: error_response(
                "`invalid_photo` (not a photo of this claim), `invalid_label`, "
                "`invalid_severity`, or `invalid` for a body of the wrong shape."
            ),
        },
        tags=["review"],
    )
    def post(self, request: Request, claim_id: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        claim = selectors.review_claim_get(claim_id=claim_id)
        preview = estimate_selectors.review_estimate_preview(
            claim=claim,
            overrides={
                str(p["photo_id"]): [dict(r) for r in p["regions"]]
                for p in data.validated_data["photos"]
            },
            adjustments=[dict(a) for a in data.validated_data["adjustments"]],
        )
        return Response(self.OutputSerializer(preview).data)


class ReviewEstimateAdjustmentApi(APIView):
    """Record one edit of the estimate's lines by part (add, remove, change) before the
    decision; answers with the claim's edits so far. The preview and the decision apply them."""

    permission_classes = [IsAdjuster]
    parser_classes = [JSONParser]

    class InputSerializer(AdjustmentInputSerializer):
        reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)

    class OutputSerializer(serializers.Serializer):
        adjustment = EstimateAdjustmentOutputSerializer()
        estimate_adjustments = EstimateAdjustmentOutputSerializer(many=True)

    @extend_schema(
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            400: error_response(
                "`invalid_adjustment`, `invalid_part` or `invalid_operation`, or `invalid` for "
                "a body of the wrong shape."
            ),
            409: error_response(f"{NOT_IN_REVIEW} {LOCKED}"),
        },
        tags=["review"],
    )
    def post(self, request: Request, claim_id: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        claim = selectors.review_claim_get(claim_id=claim_id)
        values = data.validated_data
        adjustment = services.review_estimate_adjust(
            claim=claim,
            adjuster=request.user,
            action=values["action"],
            part=values["part"],
            operation=values["operation"],
            to_operation=values.get("to_operation") or "",
            labour_hours=values.get("labour_hours"),
            parts_cost=values.get("parts_cost"),
            reason=values["reason"],
        )
        adjustments = selectors.estimate_adjustments_list(claim=claim)
        return Response(
            self.OutputSerializer(
                {
                    "adjustment": selectors.adjustment_view(adjustment),
                    "estimate_adjustments": [selectors.adjustment_view(a) for a in adjustments],
                }
            ).data,
            status=status.HTTP_201_CREATED,
        )
