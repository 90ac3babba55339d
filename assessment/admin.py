"""Admin for staff: price tables, decision policies (new versions only), model versions, and
read-only views of assessments, decisions and the audit trail."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from assessment import policy, services
from assessment.models import (
    AuditRecord,
    ClaimAssessment,
    Decision,
    DecisionPolicy,
    EstimateLine,
    ExportJob,
    ModelVersion,
    PriceRule,
    PriceTable,
)


class PriceRuleInline(admin.TabularInline):
    model = PriceRule
    extra = 1


@admin.register(PriceTable)
class PriceTableAdmin(admin.ModelAdmin):
    list_display = ("name", "currency", "labour_rate", "paint_rate", "is_active")
    inlines = [PriceRuleInline]


@admin.register(DecisionPolicy)
class DecisionPolicyAdmin(admin.ModelAdmin):
    """A saved version is never changed: editing one saves a new version instead."""

    list_display = ("version", "is_active", "note", "created_by", "created_at")
    readonly_fields = ("version", "created_by", "created_at", "is_active")
    fields = ("version", "rules", "note", "is_active", "created_by", "created_at")
    actions = ["activate"]

    def get_changeform_initial_data(self, request):
        return {"rules": services.decision_policy_active().rules}

    def save_model(self, request, obj, form, change):
        try:
            policy.PolicyRules.from_dict(obj.rules)
        except (TypeError, ValueError) as exc:
            raise ValidationError(str(exc)) from exc
        created = services.decision_policy_create(
            rules=obj.rules, note=obj.note, created_by=request.user, activate=False
        )
        obj.pk, obj.version = created.pk, created.version
        messages.info(request, f"Saved as new version {created.version}; activate it to use it.")

    @admin.action(description="Activate the selected policy version")
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return
        services.decision_policy_activate(decision_policy=queryset.get())

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
    list_display = ("claim", "overall_severity", "estimate_total", "currency", "model_version")
    readonly_fields = [f.name for f in ClaimAssessment._meta.fields]
    inlines = [EstimateLineInline]


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ("claim", "outcome", "automatic", "created_at")
    list_filter = ("outcome", "automatic")
    readonly_fields = [f.name for f in Decision._meta.fields]


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "requested_by", "status", "created_at")
    list_filter = ("status",)
    readonly_fields = [f.name for f in ExportJob._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


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


import assessment.admin_calibration  # noqa: E402, F401 - calibration action
from assessment import admin_registry  # noqa: E402, F401 - learning-loop admin
