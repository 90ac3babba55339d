"""App config for flywheel: the stage that measures whether the loop turns (the quality
dashboard, the review effort model and the simulation of rounds of claims)."""

from django.apps import AppConfig


class FlywheelConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "flywheel"
