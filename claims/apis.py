"""REST API for customers: accounts, claims, photos. One view per action; logic in services.

Its length (about 500 lines) is one short view per endpoint with its schema annotations and
input serializer beside it; there is no logic to separate from them.
"""

from django.http import FileResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiRequest,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from assessment import selectors as assessment_selectors
from assessment.serializers import (
    ClaimAssessmentSerializer,
    ContestSerializer,
    CustomerDecisionSerializer,
    PhotoAssessmentSerializer,
)
from claims import idempotency, images, login_limits, selectors, services
from claims.idempotency import idempotent
from claims.models import Photo
from claims.permissions import IsCustomer
from claims.roles import user_roles
from config.errors import ApplicationError
from config.pagination import PageNumberPagination
from config.schema import PAGE_NOT_FOUND, PAGE_PARAMETER, error_response, page_of
from config.serializers import InputSerializer, NoInput, check_fields
from config.throttling import AnonRateThrottle
from review import customer_selectors

ERR_NO_IMAGE = _("Attach the photo in the multipart field 'image'.")
ERR_ONE_IMAGE = _("Send one photo per request in the field 'image'.")
ERR_BAD_CREDENTIALS = _("Unable to log in with provided credentials.")
ERR_FUTURE_YEAR = _("The vehicle year is in the future.")

# What a claim shows but only the server sets: sending one is a ``read_only_field`` error.
SERVER_OWNED_FIELDS = frozenset(
    {
        "id",
        "status",
        "status_display",
        "decision",
        "assessment",
        "reference",
        "owner",
        "vehicle",
        "submitted_at",
        "created_at",
        "updated_at",
        "photos",
        "estimate_total",
    }
)
# What an account shows or Django keeps on it, none of which a registration may set.
SERVER_OWNED_ACCOUNT_FIELDS = frozenset(
    {
        "id",
        "roles",
        "token",
        "groups",
        "is_staff",
        "is_superuser",
        "is_active",
        "user_permissions",
        "date_joined",
        "last_login",
    }
)

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    # claims.idempotency: 1 to 255 visible ASCII characters (spaces inside only: HTTP drops
    # them at either end).
    {
        "type": "string",
        "minLength": 1,
        "maxLength": idempotency.MAX_KEY_LENGTH,
        "pattern": r"^[!-~]([ -~]*[!-~])?$",
    },
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "A retried request with the same key returns the first result (header "
        "`Idempotent-Replayed: true`); the same key with a different request is a 422 "
        "`idempotency_key_reused`."
    ),
)
IDEMPOTENCY_REUSED = error_response(
    "`idempotency_key_reused`: this `Idempotency-Key` already stands for a different request."
)
SUBMIT_REFUSED = error_response(
    "`invalid_transition` (the claim's status forbids it, e.g. submitted already), "
    "`no_photos`, or `no_new_photos` (more photos were asked for and none came)."
)
# Django's password validators (settings.AUTH_PASSWORD_VALIDATORS), as far as a schema can say.
PASSWORD_HELP = (
    "At least 8 characters, not only digits, used exactly as typed (spaces count). Also "  # noqa: S105
    "refused with 400 `weak_password`: a common password, or one too like the username or "
    "email."
)


class UsernameField(serializers.RegexField):
    """The form the page's form has too; look-alike letters and case-insensitive uniqueness are
    claims.services.user_register's, for both."""

    # What the schema says: the names as stored (claims.services.username_normalise).
    schema_overrides = {"pattern": r"^[A-Za-z0-9_.@+-]{3,150}$"}

    def __init__(self, **kwargs) -> None:
        super().__init__(
            r"^[\w.@+-]{3,150}$",
            max_length=150,
            help_text=(
                "3 to 150 of a-z, A-Z, 0-9 and `_.@+-`, unique regardless of case. Full-width "
                "letters are read as plain ones; letters of other alphabets are refused (400 "
                "`username_confusable`)."
            ),
            **kwargs,
        )


class NewPasswordField(serializers.CharField):
    """A new account's password, judged by Django's validators (claims.services): the schema
    shows the rules a schema can state, the help text the others."""

    # MinimumLengthValidator, NumericPasswordValidator ("has a character that is not a
    # digit"), and no NUL character (DRF's CharField refuses it, as every text field's rule).
    schema_overrides = {"minLength": 8, "pattern": r"^[^\x00]*[^\x00\d][^\x00]*$"}

    def __init__(self, **kwargs) -> None:
        super().__init__(
            write_only=True,
            max_length=128,
            trim_whitespace=False,
            help_text=PASSWORD_HELP,
            **kwargs,
        )


class PhotoOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    original_name = serializers.CharField()
    format = serializers.CharField(source="image_format")
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    size_bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    status = serializers.CharField()
    quality_warnings = serializers.SerializerMethodField()
    image_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    assessment = serializers.SerializerMethodField()

    @extend_schema_field(PhotoAssessmentSerializer(allow_null=True))
    def get_assessment(self, photo: Photo) -> dict | None:
        # Only what a confident model or an adjuster stands behind (review.customer_selectors):
        # a claim passes its photos' shown regions, read once; a lone photo reads its claim's.
        shown = self.context.get("photo_assessments")
        if shown is None:
            shown = customer_selectors.claim_record_for_customer(claim=photo.claim).photos
        assessment = shown.get(photo.pk)
        return PhotoAssessmentSerializer(assessment).data if assessment else None

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_quality_warnings(self, photo: Photo) -> list[dict]:
        # Stored in English; the customer reads them in the request's language.
        return [
            {
                **warning,
                "message": images.quality_warning_text(warning),
            }
            for warning in photo.quality_warnings or []
        ]

    def get_image_url(self, photo: Photo) -> str:
        return reverse("api-photo-image", kwargs={"claim_id": photo.claim_id, "photo_id": photo.id})


class VehicleSerializer(serializers.Serializer):
    make = serializers.CharField(source="vehicle_make")
    model = serializers.CharField(source="vehicle_model")
    year = serializers.IntegerField(source="vehicle_year")


class ClaimOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    reference = serializers.CharField()
    status = serializers.CharField()
    status_display = serializers.CharField(source="get_status_display")
    policy_number = serializers.CharField()
    vehicle = VehicleSerializer(source="*")
    incident_date = serializers.DateField()
    description = serializers.CharField()
    photos = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    decision = serializers.SerializerMethodField()
    assessment = serializers.SerializerMethodField()
    contest = serializers.SerializerMethodField()
    can_contest = serializers.SerializerMethodField()

    def _record(self, claim):
        """What the customer may see of the damage record, read once per claim."""
        records = self.context.setdefault("customer_records", {})
        if claim.pk not in records:
            records[claim.pk] = customer_selectors.claim_record_for_customer(claim=claim)
        return records[claim.pk]

    @extend_schema_field(PhotoOutputSerializer(many=True))
    def get_photos(self, claim) -> list:
        shown = self._record(claim).photos
        return PhotoOutputSerializer(
            claim.photos.all(), many=True, context={"photo_assessments": shown}
        ).data

    @extend_schema_field(CustomerDecisionSerializer(allow_null=True))
    def get_decision(self, claim) -> dict | None:
        # The customer's words only: no fraud signal, threshold or score (assessment.selectors).
        decision = assessment_selectors.decision_latest(claim=claim)
        return CustomerDecisionSerializer(decision).data if decision else None

    @extend_schema_field(ClaimAssessmentSerializer(allow_null=True))
    def get_assessment(self, claim) -> dict | None:
        # Null until a confident model or an adjuster stands behind an estimate.
        record = self._record(claim).assessment
        return ClaimAssessmentSerializer(record).data if record else None

    @extend_schema_field(ContestSerializer(allow_null=True))
    def get_contest(self, claim) -> dict | None:
        contest = assessment_selectors.contest_latest(claim=claim)
        return ContestSerializer(contest).data if contest else None

    def get_can_contest(self, claim) -> bool:
        """Whether POST .../contest/ would be accepted now: the claim is decided."""
        return assessment_selectors.claim_contestable(claim=claim)


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AnonRateThrottle]

    class InputSerializer(InputSerializer):
        server_owned = SERVER_OWNED_ACCOUNT_FIELDS

        username = UsernameField()
        email = serializers.EmailField(max_length=254)
        # Exactly as typed: sign-in does not trim either.
        password = NewPasswordField()

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        email = serializers.EmailField()
        roles = serializers.ListField(child=serializers.CharField())
        token = serializers.CharField()

    @extend_schema(
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            409: error_response("`username_taken`: the name, ignoring case, is taken."),
        },
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        body = {
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "roles": user_roles(user),
            "token": services.api_token_issue(user=user),
        }
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)


class TokenApi(APIView):
    """A new API token for a username and password (sign-in limits: claims.login_limits)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AnonRateThrottle]

    class InputSerializer(InputSerializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)

    @extend_schema(
        request=InputSerializer,
        responses={
            200: inline_serializer(
                "TokenOutput",
                {
                    "token": serializers.CharField(),
                    "roles": serializers.ListField(child=serializers.CharField()),
                    "expires_at": serializers.DateTimeField(),
                },
            )
        },
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = login_limits.login_authenticate(request=request, **data.validated_data)
        if user is None or not user.is_active:
            raise serializers.ValidationError({"non_field_errors": [ERR_BAD_CREDENTIALS]})
        key = services.api_token_issue(user=user)
        token = selectors.api_token_get(key=key)
        return Response({"token": key, "roles": user_roles(user), "expires_at": token.expires_at})


class ClaimCollectionApi(APIView):
    """``GET`` lists the caller's claims; ``POST`` starts a new one."""

    permission_classes = [IsCustomer]
    quota_scope = "claims"  # per-user quota on POST (config.throttling.UserQuotaThrottle)

    class InputSerializer(InputSerializer):
        server_owned = SERVER_OWNED_FIELDS

        # Taken as sent (no trimming): what the schema's pattern says is what the server does.
        policy_number = serializers.RegexField(
            r"^[A-Za-z0-9\-/][A-Za-z0-9\-/ ]{2,38}[A-Za-z0-9\-/]$",
            max_length=40,
            trim_whitespace=False,
            help_text="4 to 40 letters, digits, `-`, `/` and inner spaces.",
        )
        vehicle_make = serializers.CharField(max_length=60)
        vehicle_model = serializers.CharField(max_length=60)
        vehicle_year = serializers.IntegerField(min_value=1900)
        incident_date = serializers.DateField(
            help_text="Today or earlier (400 `incident_in_future` otherwise)."
        )
        description = serializers.CharField(max_length=5000, required=False, allow_blank=True)

        def get_fields(self) -> dict:
            fields = super().get_fields()
            # Next year's models are on sale before the year starts. Built per instance, so
            # the maximum the schema shows (generated per request) is the one that applies.
            fields["vehicle_year"] = serializers.IntegerField(
                min_value=1900,
                max_value=timezone.localdate().year + 1,
                error_messages={"max_value": ERR_FUTURE_YEAR},
            )
            return fields

    @extend_schema(
        operation_id="v1_claims_list",
        parameters=[PAGE_PARAMETER],
        responses={
            200: page_of("PaginatedClaimList", ClaimOutputSerializer(many=True)),
            404: PAGE_NOT_FOUND,
        },
        tags=["claims"],
    )
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            selectors.claim_list_for_owner(owner=request.user), request, view=self
        )
        return paginator.get_paginated_response(ClaimOutputSerializer(page, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: ClaimOutputSerializer, 422: IDEMPOTENCY_REUSED},
        parameters=[IDEMPOTENCY_HEADER],
        tags=["claims"],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def create() -> Response:
            claim = services.claim_create(owner=request.user, **data.validated_data)
            claim = selectors.claim_get_for_owner(owner=request.user, claim_id=claim.pk)
            return Response(ClaimOutputSerializer(claim).data, status=status.HTTP_201_CREATED)

        return idempotent(request, create)


class ClaimDetailApi(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(responses={200: ClaimOutputSerializer}, tags=["claims"])
    def get(self, request: Request, claim_id: str) -> Response:
        claim = selectors.claim_get_for_owner(owner=request.user, claim_id=claim_id)
        return Response(ClaimOutputSerializer(claim).data)


class ClaimSubmitApi(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        request=None,
        responses={202: ClaimOutputSerializer, 409: SUBMIT_REFUSED},
        tags=["claims"],
    )
    def post(self, request: Request, claim_id: str) -> Response:
        NoInput(data=request.data).is_valid(raise_exception=True)
        claim = selectors.claim_get_for_owner(owner=request.user, claim_id=claim_id)
        services.claim_submit(claim=claim)
        claim = selectors.claim_get_for_owner(owner=request.user, claim_id=claim_id)
        return Response(ClaimOutputSerializer(claim).data, status=status.HTTP_202_ACCEPTED)


class PhotoUploadApi(APIView):
    permission_classes = [IsCustomer]
    parser_classes = [MultiPartParser, FormParser]
    quota_scope = "uploads"  # per-user quota (config.throttling.UserQuotaThrottle)

    class InputSerializer(InputSerializer):
        # Bounded by the upload cap (claims.uploads), checked while the body streams.
        image = serializers.FileField()

    @extend_schema(
        request={
            "multipart/form-data": OpenApiRequest(
                InputSerializer,
                # What claims.images reads, by content; anything else is a 415.
                encoding={"image": {"contentType": "image/jpeg, image/png, image/webp"}},
            )
        },
        responses={
            201: PhotoOutputSerializer,
            409: error_response(
                "`claim_not_editable` (the claim is no longer a draft) or `photo_limit_reached`."
            ),
            415: error_response(
                "`unsupported_image_type`: not a JPEG, PNG or WebP photo, by content."
            ),
            422: error_response(
                "`empty_file`, `image_corrupt`, `image_too_many_pixels`, "
                "or `idempotency_key_reused`."
            ),
        },
        parameters=[IDEMPOTENCY_HEADER],
        tags=["claims"],
    )
    def post(self, request: Request, claim_id: str) -> Response:
        # The body was size-capped before it was read (claims.uploads). The photo gets the
        # precise errors below and in the service; other fields are refused like anywhere.
        uploads = request.FILES.getlist("image")
        if not uploads:
            raise ApplicationError(ERR_NO_IMAGE, code="image_missing")
        if len(uploads) > 1:
            raise ApplicationError(ERR_ONE_IMAGE, code="too_many_files")
        check_fields(self.InputSerializer(), request.data)
        claim = selectors.claim_get_for_owner(owner=request.user, claim_id=claim_id)

        def ingest() -> Response:
            photo = services.photo_ingest(claim=claim, upload=uploads[0])
            return Response(PhotoOutputSerializer(photo).data, status=status.HTTP_201_CREATED)

        return idempotent(request, ingest)


class PhotoDetailApi(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(responses={200: PhotoOutputSerializer}, tags=["claims"])
    def get(self, request: Request, claim_id: str, photo_id: str) -> Response:
        photo = selectors.photo_get_for_owner(
            owner=request.user, claim_id=claim_id, photo_id=photo_id
        )
        return Response(PhotoOutputSerializer(photo).data)

    @extend_schema(
        request=None,
        responses={
            204: None,
            409: error_response(
                "`claim_not_editable` (the claim is no longer a draft) or `photo_not_removable`."
            ),
        },
        tags=["claims"],
    )
    def delete(self, request: Request, claim_id: str, photo_id: str) -> Response:
        NoInput(data=request.data).is_valid(raise_exception=True)
        photo = selectors.photo_get_for_owner(
            owner=request.user, claim_id=claim_id, photo_id=photo_id
        )
        services.photo_delete(photo=photo)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PhotoImageApi(APIView):
    """The metadata-free working copy. Originals are never served."""

    permission_classes = [IsCustomer]

    @extend_schema(responses={(200, "image/jpeg"): bytes}, tags=["claims"])
    def get(self, request: Request, claim_id: str, photo_id: str) -> FileResponse:
        photo = selectors.photo_get_for_owner(
            owner=request.user, claim_id=claim_id, photo_id=photo_id
        )
        services.photo_working_ensure(photo=photo)  # a lost copy is rebuilt from the original
        response = FileResponse(photo.working.open("rb"), content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        return response
