"""App config for labelling: data teams' labelling projects (photos that are not claims,
pre-labelled by the model, corrected, checked, and fed to training)."""

from django.apps import AppConfig


class LabellingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "labelling"
