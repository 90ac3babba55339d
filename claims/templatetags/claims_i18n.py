"""Template helpers for translated customer text that is stored in English."""

from django import template

from claims import images

register = template.Library()


@register.filter
def warning_text(warning: dict) -> str:
    """``{{ warning|warning_text }}``: a photo's stored quality warning in the page's language."""
    return images.quality_warning_text(warning)
