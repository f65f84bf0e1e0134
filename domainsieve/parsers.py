"""Request body parsing that refuses hostile JSON with a 400 instead of crashing the worker.

Python's json module recurses once per nesting level, so a body of a few thousand ``[`` raises
RecursionError (a 500 through DRF's parser). Bodies are also checked against a sane nesting depth
after parsing: no endpoint takes more than a few levels, and deep structures would only recurse
again in serializers.
"""
from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 32


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` nests lists/dicts deeper than ``limit`` (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            children = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class RequestTooLarge(APIException):
    status_code = 413
    default_detail = "request body too large"
    default_code = "too_large"


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with a size limit (MAX_JSON_BODY_BYTES, 413), a nesting limit
    (MAX_JSON_DEPTH, 400) and no RecursionError. DRF reads JSON from the raw stream, so Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE (which guards ``request.body`` and form fields) does not apply."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = int(settings.MAX_JSON_BODY_BYTES)
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise RequestTooLarge(f"JSON body larger than {limit} bytes")
        try:
            data = super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels") from None
        if json_depth_exceeds(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels")
        return data
