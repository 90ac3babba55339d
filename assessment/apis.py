"""Customer-facing assessment actions: contesting a decision."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from assessment import contests
from claims import selectors
from claims.apis import ClaimOutputSerializer
from claims.permissions import IsCustomer
from config.schema import error_response
from config.serializers import InputSerializer


class ClaimContestApi(APIView):
    """A customer contests, or asks about, a decision, automatic or a person's (GDPR art. 22):
    the claim goes back to review for a senior adjuster. Only the claim's owner may (another
    customer's claim is a 404); one open contest per claim."""

    permission_classes = [IsCustomer]

    class InputSerializer(InputSerializer):
        reason = serializers.CharField(
            max_length=contests.CONTEST_REASON_MAX,
            required=False,
            allow_blank=True,
            help_text="What the customer disagrees with or asks about; read first in review.",
        )

    @extend_schema(
        request=InputSerializer,
        responses={
            202: ClaimOutputSerializer,
            409: error_response(
                "`not_contestable`: the claim is not decided (a draft, being assessed, or "
                "waiting for photos), or `contest_open`: its contest is being looked at already."
            ),
        },
        tags=["claims"],
    )
    def post(self, request: Request, claim_id: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        claim = selectors.claim_get_for_owner(owner=request.user, claim_id=claim_id)
        contests.claim_contest(
            claim=claim, user=request.user, reason=data.validated_data.get("reason", "")
        )
        claim = selectors.claim_get_for_owner(owner=request.user, claim_id=claim_id)
        return Response(ClaimOutputSerializer(claim).data, status=status.HTTP_202_ACCEPTED)
