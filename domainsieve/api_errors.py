"""The API's exception handler: DRF's, plus a 400 for values the database cannot hold.

Input serializers bound their numbers (``max_value``) so that this is a safety net, not the
validation: an integer past 64 bits or a string past a column's length that slipped through
still answers "400 value out of range" instead of a 500 with a stack trace in the log.
"""
from __future__ import annotations

import logging
from typing import Any

from django.db import DataError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger(__name__)

# Bounds for input serializers: PostgreSQL integer / bigint columns.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def bad_request(error: Exception | str) -> Response:
    """400 with the refusal's message as ``detail``: how API views answer a service's input error."""
    return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DataError):
        view = context.get("view")
        log.warning("DataError in %s: %s", type(view).__name__ if view else "?", exc)
        return Response({"detail": "a value is out of range for this field"}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
