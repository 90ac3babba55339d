"""The API's JSON parser: a size cap and a nesting cap, both checked before anything is decoded.

Python's ``json`` decoder recurses once per level, so a body of about 1,000 nested brackets is a
``RecursionError`` (a 500) in the decoder, and a shallower one can still exhaust the stack in
the validation that walks it. The nesting is counted from the raw text (strings removed) in C
loops, so refusing a hostile body costs about as much as reading it.
"""

import re
from itertools import accumulate

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

from config.errors import JsonBodyTooLarge, body_too_large_message

# The deepest body an endpoint takes is a labels PUT (body > regions > region > mask_rle > size):
# five levels. Twenty leaves room for new fields and still refuses every hostile document long
# before the decoder's recursion limit.
MAX_JSON_DEPTH = 20

ERR_TOO_DEEP = "The JSON body is nested more than {limit} levels deep."
ERR_NOT_JSON = "The body is not valid JSON: {error}."
ERR_ENCODING = "The body is not valid {encoding} text."

# A JSON string: a quote, then anything but a quote or a backslash, or an escape, then a quote
# or the end of the text. The end counts (and a lone backslash there): a match must never fail
# once it started, or every escaped quote of an unterminated string would rescan the rest of the
# body, which is quadratic.
_STRING = re.compile(r'"(?:[^"\\]|\\.?)*(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DELTA = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """How deeply the brackets of ``text`` nest, ignoring brackets inside strings."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_DELTA.__getitem__, brackets)), default=0)


class JSONParser(parsers.JSONParser):
    """DRF's parser with the request-size cap and the nesting cap in front of ``json.loads``."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        # Read one byte more than allowed: a body that lied about its length stops here.
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise JsonBodyTooLarge(body_too_large_message())
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise ParseError(ERR_ENCODING.format(encoding=encoding)) from None
        if json_depth(text) > MAX_JSON_DEPTH:
            raise ParseError(ERR_TOO_DEEP.format(limit=MAX_JSON_DEPTH))
        parse_constant = json.strict_constant if self.strict else None
        try:
            return json.loads(text, parse_constant=parse_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(ERR_NOT_JSON.format(error=exc)) from None
