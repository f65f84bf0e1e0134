"""Reading ids and query text that users type, without the ways ``str.isdigit`` + ``int`` crash.

``"²".isdigit()`` is True and ``int("²")`` raises; ``int("9" * 5000)`` raises past Python's digit
limit; ids past 64 bits overflow PostgreSQL's bigint; NUL characters cannot be stored or compared
in PostgreSQL text. Each of those was a 500.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

INT64_MAX = 2**63 - 1


def parse_id(text: object) -> int | None:
    """A database id from user text: ASCII digits within bigint range, else None."""
    value = str(text).strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 19:
        return None
    number = int(value)
    return number if number <= INT64_MAX else None


class RejectNulMiddleware:
    """400 for a NUL character in the path or a query parameter: no page or endpoint takes one,
    and PostgreSQL refuses it in any text comparison. (Form and JSON string fields are checked by
    Django's and DRF's CharField, which prohibit NUL.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        if "\x00" in request.path or any("\x00" in key or any("\x00" in v for v in values)
                                         for key, values in request.GET.lists()):
            return HttpResponseBadRequest("NUL characters are not allowed in URLs.", content_type="text/plain")
        return self.get_response(request)
