"""Customer-facing assessment actions: contesting an automatic decision."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from assessment import services
from claims import selectors
from claims.apis import ClaimOutputSerializer
from claims.permissions import IsCustomer
from config.schema import error_response
from config.serializers import InputSerializer


class ClaimContestApi(APIView):
    """People may ask for a human: an automatic decision goes to an adjuster."""

    permission_classes = [IsCustomer]

    class InputSerializer(InputSerializer):
        reason = serializers.CharField(max_length=1000, required=False, allow_blank=True)

    @extend_schema(
        request=InputSerializer,
        responses={
            202: ClaimOutputSerializer,
            409: error_response("`not_contestable`: this claim's decision cannot be contested."),
        },
        tags=["claims"],
    )
    def post(self, request: Request, claim_id: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        claim = selectors.claim_get_for_owner(owner=request.user, claim_id=claim_id)
        services.claim_contest(
            claim=claim, user=request.user, reason=data.validated_data.get("reason", "")
        )
        claim = selectors.claim_get_for_owner(owner=request.user, claim_id=claim_id)
        return Response(ClaimOutputSerializer(claim).data, status=status.HTTP_202_ACCEPTED)
