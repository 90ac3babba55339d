"""OpenAPI schema tweaks: nested ``InputSerializer``/``OutputSerializer`` get their view's name."""

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema

_GENERIC = {"InputSerializer": "Input", "OutputSerializer": "Output"}


class AutoSchema(BaseAutoSchema):
    def _get_serializer_name(self, serializer, direction, bypass_extensions=False) -> str:
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        suffix = _GENERIC.get(type(serializer).__name__)
        if suffix is None:
            return name
        view_name = type(self.view).__name__.removesuffix("Api")
        return f"{view_name}{suffix}"
