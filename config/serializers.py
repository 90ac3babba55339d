"""The rules every request body follows, in one place for every write endpoint.

- A field the endpoint does not take is refused (400 ``unknown_field``, or ``read_only_field``
  when every such name is one the server sets), naming the fields. Silently dropping them hides
  client bugs and answers probes (``is_staff``, ``status``) with a success.
- Every list and string has a cap, checked before any element is validated: DRF's ``ListField``
  validates each element first and compares the length afterwards, so 400,000 elements cost
  seconds of CPU before the "too many" answer. ``ListSerializer`` (``many=True``) already checks
  its ``max_length`` first.
"""

from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.utils import json

from config.errors import ApplicationError

ERR_UNKNOWN_FIELDS = "This endpoint does not take these fields: {fields}."
ERR_SERVER_OWNED = "These fields are set by the server and cannot be sent: {fields}."
ERR_LIST_TOO_LONG = "Ensure this field has no more than {max_length} elements."
ERR_JSON_TOO_LARGE = "Ensure this value is at most {max_bytes} bytes of JSON."


def refused_fields(serializer: serializers.Serializer, data, prefix: str = "") -> list[str]:
    """Names in ``data`` that ``serializer`` (and its nested serializers) does not take, as
    paths such as ``regions[2].colour``. Lists over their cap are not walked: their length is
    the error, reported by validation."""
    if not isinstance(data, Mapping):
        return []
    writable = {name: field for name, field in serializer.fields.items() if not field.read_only}
    names = [f"{prefix}{name}" for name in data if name not in writable]
    for name, field in writable.items():
        if name not in data:
            continue
        value = data[name]
        if isinstance(field, serializers.ListSerializer) and isinstance(value, list):
            if field.max_length is not None and len(value) > field.max_length:
                continue
            for index, item in enumerate(value):
                names += refused_fields(field.child, item, f"{prefix}{name}[{index}].")
        elif isinstance(field, serializers.Serializer):
            names += refused_fields(field, value, f"{prefix}{name}.")
    return names


def check_fields(serializer: "InputSerializer", data) -> None:
    """Refuse the names in ``data`` that ``serializer`` does not take (400, naming them)."""
    refused = sorted(refused_fields(serializer, data))
    if not refused:
        return
    listed = ", ".join(refused)
    if set(refused) <= serializer.server_owned:
        raise ApplicationError(
            ERR_SERVER_OWNED.format(fields=listed),
            code="read_only_field",
            details={"fields": refused},
        )
    raise ApplicationError(
        ERR_UNKNOWN_FIELDS.format(fields=listed), code="unknown_field", details={"fields": refused}
    )


class InputSerializer(serializers.Serializer):
    """Base of every request body (and of the empty body of actions that take none)."""

    # Names the resource shows but only the server sets (``status``, ``owner``...): sending
    # only such names gets the more telling ``read_only_field``.
    server_owned: frozenset[str] = frozenset()

    def to_internal_value(self, data):
        if self.parent is None:  # nested serializers are walked by their root
            check_fields(self, data)
        return super().to_internal_value(data)


class NoInput(InputSerializer):
    """The body of an action that takes no fields: empty, or refused."""


class CappedListField(serializers.ListField):
    """A ``ListField`` whose ``max_length`` is required and checked before any element."""

    def __init__(self, *, max_length: int, **kwargs) -> None:
        super().__init__(max_length=max_length, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, list | tuple) and len(data) > self.max_length:
            raise serializers.ValidationError(
                ERR_LIST_TOO_LONG.format(max_length=self.max_length), code="max_length"
            )
        return super().to_internal_value(data)


class CappedJSONField(serializers.JSONField):
    """Free-form JSON (checked by a service) no larger than ``max_bytes`` once encoded."""

    def __init__(self, *, max_bytes: int, **kwargs) -> None:
        self.max_bytes = max_bytes
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        encoded = json.dumps(value, separators=(",", ":"))
        if len(encoded) > self.max_bytes:
            raise serializers.ValidationError(
                ERR_JSON_TOO_LARGE.format(max_bytes=self.max_bytes), code="max_length"
            )
        return value


class QueryBooleanField(serializers.BooleanField):
    """A yes/no filter in a query string: ``1``/``true``/``0``/``false`` (DRF's spellings) or
    absent (the default). DRF reads an empty value (``?mine=``) of an optional field as absent;
    the schema says boolean, so an empty value is refused (400) like any other non-boolean."""

    def get_value(self, dictionary):
        if self.field_name in dictionary and dictionary.get(self.field_name) == "":
            return ""  # not a valid boolean: to_internal_value refuses it
        return super().get_value(dictionary)
