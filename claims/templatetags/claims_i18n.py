"""Template helpers for translated customer text that is stored in English."""

from django import template
from django.conf import settings

from claims import images

register = template.Library()


@register.filter
def warning_text(warning: dict) -> str:
    """``{{ warning|warning_text }}``: a photo's stored quality warning in the page's language."""
    return images.quality_warning_text(warning)


@register.filter
def language_own_name(code: str) -> str:
    """A language's name in that language, as settings.LANGUAGES spells it ("Deutsch"):
    someone who cannot read the current page can still find their own."""
    return dict(settings.LANGUAGES).get(code, code)
