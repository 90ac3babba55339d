"""Admin for staff: price tables, decision policies (new versions only), model versions, and
read-only views of assessments, decisions and the audit trail."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from assessment import configuration, policy, selectors
from assessment.models import (
    AuditRecord,
    ClaimAssessment,
    Decision,
    DecisionPolicy,
    EstimateLine,
    ModelVersion,
    PartPrice,
    PriceRule,
    PriceTable,
    RepairTime,
)
from claims.images import QUALITY_WARNINGS
from ml.labels import DEFAULT_LABEL_MAP, PRODUCT_LABEL_MAP, damage_type_display


class PriceRuleInline(admin.TabularInline):
    model = PriceRule
    extra = 1


class PartPriceInline(admin.TabularInline):
    """Prices by car part and operation (assessment.part_pricing): a part and operation without
    a row goes to review; r_and_i and blend rows are the rule that adds those operations."""

    model = PartPrice
    extra = 0
    fields = ["part", "operation", "labour_hours", "parts_cost", "description"]
    verbose_name = "price by part and operation"
    verbose_name_plural = "prices by part and operation (hours: paint hours for refinish, blend)"


class RepairTimeInline(admin.TabularInline):
    """Body hours to repair a damage type on a part, by severity and size band."""

    model = RepairTime
    extra = 0
    fields = ["damage_type", "severity", "size_band", "labour_hours"]
    verbose_name_plural = "repair times by damage type, severity and size (type * for any)"


class PriceTableForm(forms.ModelForm):
    class Meta:
        model = PriceTable
        fields = ("name", "currency", "labour_rate", "paint_rate", "is_active")

    def _get_validation_exclusions(self):
        # Activating this table retires the active one in the same save (PriceTableAdmin), so
        # "one active table" holds afterwards; every other rule is checked as usual.
        return super()._get_validation_exclusions() | {"is_active"}


@admin.register(PriceTable)
class PriceTableAdmin(admin.ModelAdmin):
    """Every save (rates, rules, activation) is audited with what it was before and after."""

    form = PriceTableForm
    list_display = ("name", "currency", "labour_rate", "paint_rate", "is_active")
    inlines = [PartPriceInline, RepairTimeInline, PriceRuleInline]

    def save_model(self, request, obj, form, change):
        before = PriceTable.objects.filter(pk=obj.pk).first() if change else None
        request._price_table_before = configuration.price_table_snapshot(before)
        if obj.is_active:  # one active table: activating this one retires the other
            PriceTable.objects.filter(is_active=True).exclude(pk=obj.pk).update(is_active=False)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)  # the rules are saved here
        configuration.price_table_change_record(
            table=form.instance, before=request._price_table_before, actor=request.user
        )


# Rules the policy form does not edit: carried from the version it starts from into the new
# one (the fitted claim-confidence map is adopted by ``manage.py calibrate``, never typed in).
CARRIED_POLICY_RULES = ("claim_confidence_calibrator",)


class DecisionPolicyForm(forms.ModelForm):
    """The policy's rules as validated fields, one error per field; the per-type thresholds
    (a mapping) stay JSON for power users. Saving adds a new version."""

    min_photo_confidence = forms.FloatField(
        min_value=0, max_value=1, help_text="A photo below this confidence goes to a person."
    )
    min_region_confidence = forms.FloatField(
        min_value=0, max_value=1, help_text="A damaged region below this goes to a person."
    )
    min_region_confidence_by_type = forms.JSONField(
        required=False,
        help_text='Stricter thresholds per damage type, e.g. {"scratch": 0.75}.',
    )
    max_auto_estimate = forms.FloatField(
        min_value=0, help_text="Estimates above this amount always go to a person."
    )
    always_human_types = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="Always checked by a person."
    )
    always_human_severities = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(name, name.capitalize()) for name in policy.SEVERITY_ORDER],
    )
    quality_warnings_route = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(code, code.replace("_", " ")) for code in QUALITY_WARNINGS],
        help_text="Photo quality warnings that send a claim to a person.",
    )
    duplicate_photo_routes = forms.BooleanField(
        required=False, help_text="A photo seen in another claim sends the claim to a person."
    )
    no_damage = forms.ChoiceField(
        choices=[("review", "A person confirms"), ("auto_close", "Closed automatically")],
        help_text="What happens when the model finds no damage.",
    )
    min_claim_confidence = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        help_text=(
            "A claim whose confidence (the chance an adjuster keeps its line items) is below "
            "this goes to a person. Empty: off. A claim without a claim confidence is not "
            "routed by this rule."
        ),
    )
    audit_sample_share = forms.FloatField(
        min_value=0,
        max_value=1,
        help_text=(
            "Share of the claims that would be decided automatically sent to a person anyway, "
            "as a random audit, to measure the automatic path's error (e.g. 0.05)."
        ),
    )

    CARRIED_RULES = CARRIED_POLICY_RULES
    RULE_FIELDS = tuple(
        n for n in policy.PolicyRules.__dataclass_fields__ if n not in CARRIED_POLICY_RULES
    )

    class Meta:
        model = DecisionPolicy
        fields = ("note",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        rules = policy.PolicyRules.from_dict(
            self.instance.rules
            if self.instance.pk
            else configuration.decision_policy_active().rules
        ).to_dict()
        # Each type by the one name people read (the label map's display name), stored by code.
        known = {n for m in (PRODUCT_LABEL_MAP, DEFAULT_LABEL_MAP) for n in m.names[1:]}
        names = {n: damage_type_display(n) for n in known | set(rules["always_human_types"])}
        self.fields["always_human_types"].choices = sorted(names.items(), key=lambda c: c[1])
        for name in self.RULE_FIELDS:
            self.fields[name].initial = rules[name]
        self.carried_rules = {name: rules[name] for name in self.CARRIED_RULES}

    def clean_min_region_confidence_by_type(self):
        value = self.cleaned_data["min_region_confidence_by_type"] or {}
        if not isinstance(value, dict):
            raise ValidationError('Give an object of type names to thresholds: {"scratch": 0.75}.')
        for label, threshold in value.items():
            if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
                raise ValidationError(f"The threshold for {label} must be a number from 0 to 1.")
        return value

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        rules = {**self.carried_rules, **{name: cleaned[name] for name in self.RULE_FIELDS}}
        try:
            self.rules = policy.PolicyRules.from_dict(rules).to_dict()
        except (TypeError, ValueError) as exc:
            raise ValidationError(str(exc)) from exc
        return cleaned


@admin.register(DecisionPolicy)
class DecisionPolicyAdmin(admin.ModelAdmin):
    """A saved version is never changed: editing one saves a new version instead. Creating
    and activating versions is audited (assessment.configuration)."""

    form = DecisionPolicyForm
    list_display = ("version", "is_active", "note", "created_by", "created_at")
    readonly_fields = ("version", "created_by", "created_at", "is_active")
    fieldsets = (
        (None, {"fields": ("note",)}),
        (
            "When a claim goes to a person",
            {
                "fields": (
                    "min_photo_confidence",
                    "min_region_confidence",
                    "max_auto_estimate",
                    "always_human_types",
                    "always_human_severities",
                    "quality_warnings_route",
                    "duplicate_photo_routes",
                    "no_damage",
                    "min_claim_confidence",
                    "audit_sample_share",
                )
            },
        ),
        (
            "Per damage type (JSON)",
            {"classes": ("collapse",), "fields": ("min_region_confidence_by_type",)},
        ),
        ("Version", {"fields": ("version", "is_active", "created_by", "created_at")}),
    )
    actions = ["activate"]

    def save_model(self, request, obj, form, change):
        created = configuration.decision_policy_create(
            rules=form.rules, note=obj.note, created_by=request.user, activate=False
        )
        obj.pk, obj.version = created.pk, created.version
        messages.info(request, f"Saved as new version {created.version}; activate it to use it.")

    def log_change(self, request, obj, message):
        return None  # nothing was changed: a new version was added (logged as an addition)

    @admin.action(description="Activate the selected policy version")
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return
        chosen = queryset.get()
        configuration.decision_policy_activate(decision_policy=chosen, actor=request.user)
        self.message_user(
            request, f"Policy version {chosen.version} is now active.", messages.SUCCESS
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("version", "status", "created_at", "activated_at")
    readonly_fields = ("version", "path", "artifact_sha256", "label_map", "metrics", "status")


class EstimateLineInline(admin.TabularInline):
    model = EstimateLine
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in EstimateLine._meta.fields]


@admin.register(ClaimAssessment)
class ClaimAssessmentAdmin(admin.ModelAdmin):
    list_display = (
        "claim",
        "overall_severity",
        "estimate_total",
        "currency",
        "claim_confidence",
        "claim_confidence_source",
        "model_version",
    )
    readonly_fields = [
        *(f.name for f in ClaimAssessment._meta.fields),
        "claim_confidence_meaning",
    ]
    inlines = [EstimateLineInline]

    @admin.display(description="Claim confidence, in words")
    def claim_confidence_meaning(self, obj) -> str:
        view = selectors.claim_confidence_view(obj)
        return view["meaning"] if view else "Not computed (an adjuster's assessment, or older)."


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ("claim", "outcome", "automatic", "created_at")
    list_filter = ("outcome", "automatic")
    readonly_fields = [f.name for f in Decision._meta.fields]


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    list_display = ("created_at", "claim_reference", "kind", "actor", "outcome")
    list_filter = ("kind",)
    search_fields = ("claim_reference",)
    readonly_fields = [f.name for f in AuditRecord._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
