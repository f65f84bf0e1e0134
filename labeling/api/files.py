"""API: browse the server folders imports may read (``IMPORT_ROOTS`` only), for the import form's
picker. Researchers only: it shows file names on the server."""
from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from domainsieve.api_errors import bad_request
from domainsieve.auth import IsResearcher
from labeling.ingest.items import ImportSourceError
from labeling.selectors.files import import_roots_listing


class ImportFilesApi(APIView):
    """``GET /api/v1/files/`` lists the import roots; ``?path=/abs/folder`` the folders and files
    under it. A path outside the roots, missing or not a folder: 400 with the reason."""

    permission_classes = [IsResearcher]

    @extend_schema(parameters=[OpenApiParameter("path", str, description="absolute folder inside IMPORT_ROOTS")],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        try:
            listing = import_roots_listing(path=request.query_params.get("path", "").strip() or None,
                                           roots=settings.IMPORT_ROOTS)
        except ImportSourceError as exc:
            return bad_request(exc)
        return Response(listing)
