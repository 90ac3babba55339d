"""Output shapes for assessment results, embedded in the claims API (``decision``,
``assessment``, and each photo's ``regions``)."""

from django.utils.translation import gettext, gettext_noop
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from assessment import part_pricing, policy, selectors


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class DecisionSerializer(serializers.Serializer):
    outcome = serializers.CharField()
    outcome_display = serializers.CharField(source="get_outcome_display")
    automatic = serializers.BooleanField()
    reasons = ReasonSerializer(many=True)
    policy_version = serializers.IntegerField(source="policy.version", allow_null=True)
    model_version = serializers.CharField(source="model_version.version", allow_null=True)
    decided_at = serializers.DateTimeField(source="created_at")


class CustomerDecisionSerializer(DecisionSerializer):
    """The decision as customers see it: reasons in their words only, never a fraud signal or
    an internal threshold (assessment.selectors.decision_reasons_for_customer), nor which
    policy or model version decided (staff read those: DecisionSerializer)."""

    outcome_display = serializers.SerializerMethodField()
    reasons = serializers.SerializerMethodField()
    # Internal: the policy and model versions are for staff and the audit trail only.
    policy_version = None
    model_version = None

    def get_outcome_display(self, decision) -> str:
        # In the request's language; an outcome added later falls back to its English label.
        name = policy.CUSTOMER_OUTCOME_NAMES.get(decision.outcome)
        return str(name) if name is not None else decision.get_outcome_display()

    @extend_schema_field(ReasonSerializer(many=True))
    def get_reasons(self, decision) -> list[dict]:
        return ReasonSerializer(
            selectors.decision_reasons_for_customer(decision=decision), many=True
        ).data


# The words of a line by part ("Front bumper — refinish", assessment.part_pricing): the bundled
# part map's parts and the operations, for the catalogue. A part of another part map is shown
# as its map spells it.
PART_LINE_WORDS = (
    gettext_noop("Front bumper"),
    gettext_noop("Rear bumper"),
    gettext_noop("Hood"),
    gettext_noop("Trunk"),
    gettext_noop("Front door"),
    gettext_noop("Rear door"),
    gettext_noop("Headlamp"),
    gettext_noop("Tail lamp"),
    gettext_noop("Windshield"),
    gettext_noop("Rear window"),
    gettext_noop("Mirror"),
    gettext_noop("Wheel"),
    gettext_noop("Unknown part"),
    gettext_noop("repair"),
    gettext_noop("replace"),
    gettext_noop("refinish"),
    gettext_noop("remove and refit"),
    gettext_noop("blend"),
)
PART_LINE_SEPARATOR = " — "


class StoredEnglishField(serializers.CharField):
    """Text stored in English that the catalogue may know (the default price table's
    descriptions, a line by part's "part — operation"): shown in the request's language, else as
    stored (an operator's own)."""

    def to_representation(self, value) -> str:
        text = super().to_representation(value)
        if not text:
            return text  # gettext("") would be the catalogue's header
        if PART_LINE_SEPARATOR in text and gettext(text) == text:
            return PART_LINE_SEPARATOR.join(gettext(w) for w in text.split(PART_LINE_SEPARATOR))
        return gettext(text)


class EvidenceRefSerializer(serializers.Serializer):
    photo_id = serializers.UUIDField()
    region_index = serializers.IntegerField()


class EstimateLineSerializer(serializers.Serializer):
    # A line by part: its best evidence (``evidence`` lists every region it comes from); a line
    # priced per region (no part): that region.
    photo_id = serializers.UUIDField()
    region_index = serializers.IntegerField()
    # The car part (a part map name); null for a line priced per region.
    part = serializers.CharField(allow_null=True)
    evidence = EvidenceRefSerializer(many=True)
    damage_type = serializers.CharField()
    severity = serializers.CharField()
    operation = serializers.CharField()
    description = StoredEnglishField()
    labour_hours = serializers.DecimalField(max_digits=6, decimal_places=2)
    hourly_rate = serializers.DecimalField(max_digits=8, decimal_places=2)
    parts_cost = serializers.DecimalField(max_digits=10, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["part"] = data["part"] or None
        return data


class PartEvidenceSerializer(serializers.Serializer):
    photo_id = serializers.UUIDField()
    region_index = serializers.IntegerField()
    label = serializers.CharField()
    severity = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True)  # null: a person drew or corrected it
    part_share = serializers.FloatField(allow_null=True)
    area_share = serializers.FloatField()


class DamagedPartSerializer(serializers.Serializer):
    """One damaged part of the claim (assessment.parts): regions of every photo merged."""

    # A part map name; "" for damage on no known part (never priced: an adjuster prices it).
    part = serializers.CharField(allow_blank=True)
    damage_types = serializers.ListField(child=serializers.CharField())
    severity = serializers.CharField()
    size = serializers.FloatField()  # the largest region's share of its photo
    size_band = serializers.ChoiceField(choices=["small", "medium", "large"])
    confidence = serializers.FloatField()  # the best evidence's confidence x part share
    photo_ids = serializers.ListField(child=serializers.UUIDField())
    evidence = PartEvidenceSerializer(many=True)


class ClaimAssessmentSerializer(serializers.Serializer):
    overall_severity = serializers.CharField()
    region_count = serializers.IntegerField()
    currency = serializers.CharField()
    estimate_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    lines = EstimateLineSerializer(many=True)
    damaged_parts = DamagedPartSerializer(many=True)
    source = serializers.CharField()
    legend = serializers.SerializerMethodField()
    label_names = serializers.SerializerMethodField()
    part_names = serializers.SerializerMethodField()

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_legend(self, obj) -> dict:
        return selectors.label_colours(obj.model_version)

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_part_names(self, obj) -> dict:
        """Car part (as in ``lines[].part`` and ``damaged_parts[].part``; "" for no known part)
        -> the name shown to people, in the request's language; a part the catalogue does not
        know reads as its part map spells it (``Tailgate spoiler``)."""
        parts = [line.part for line in obj.lines.all()]
        parts += [p.get("part", "") for p in obj.damaged_parts or []]
        return {p: gettext(part_pricing.part_in_words(p)) for p in dict.fromkeys(parts)}

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_label_names(self, obj) -> dict:
        """Damage type -> the name shown to people (the label map's display name), in the
        request's language (staff requests are English: claims.i18n)."""
        return {
            name: str(policy.CUSTOMER_DAMAGE_NAMES.get(display, display))
            for name, display in selectors.label_names(obj.model_version).items()
        }


class ClaimConfidenceSerializer(serializers.Serializer):
    """P(the adjuster keeps the claim's line items), with its source and meaning."""

    value = serializers.FloatField()
    prior = serializers.FloatField()
    source = serializers.ChoiceField(choices=["prior", "fitted"])
    reviews = serializers.IntegerField()
    meaning = serializers.CharField()


class StaffClaimAssessmentSerializer(ClaimAssessmentSerializer):
    """The claim assessment as staff read it: with the claim confidence (null where none was
    computed, and in a blind review, context ``blind``: a random audit) and the model version.
    Customers get ``ClaimAssessmentSerializer``, without either."""

    # Which model version assessed the claim: for staff and the audit trail, not customers.
    model_version = serializers.CharField(source="model_version.version")
    claim_confidence = serializers.SerializerMethodField()

    @extend_schema_field(ClaimConfidenceSerializer(allow_null=True))
    def get_claim_confidence(self, obj) -> dict | None:
        if self.context.get("blind"):
            return None
        return selectors.claim_confidence_view(obj)


class RegionSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    label = serializers.CharField()
    # The model's confidence; null for a region an adjuster drew or corrected.
    confidence = serializers.FloatField(allow_null=True)
    severity = serializers.CharField()
    area_share = serializers.FloatField()
    bbox = serializers.ListField(child=serializers.IntegerField())
    polygon = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))
    mask_rle = serializers.DictField()
    # The car part under the region (models with a part head): null when no named part covers
    # it or the model has no part head; part_share is null only for the latter.
    part = serializers.CharField(allow_null=True)
    part_share = serializers.FloatField(allow_null=True)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["part"] = data["part"] or None
        return data


class PhotoAssessmentSerializer(serializers.Serializer):
    """A photo's assessment in the customer API (no model version: staff read that in the
    review API)."""

    photo_confidence = serializers.FloatField()
    mask_width = serializers.IntegerField()
    mask_height = serializers.IntegerField()
    regions = RegionSerializer(many=True)
    source = serializers.SerializerMethodField()

    def get_source(self, obj) -> str:
        """``model``: the model's regions; ``adjuster``: an adjuster's corrected labels."""
        return getattr(obj, "source", "model")


class ContestSerializer(serializers.Serializer):
    """The customer's latest contest of a decision, and where it stands."""

    state = serializers.ChoiceField(choices=["open", "answered"])
    state_display = serializers.CharField(source="get_state_display")
    reason = serializers.CharField()
    contested_outcome = serializers.CharField(source="decision.outcome")
    created_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)
