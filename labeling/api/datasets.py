"""API: datasets, images and imports.

Reads are open to every role, but annotators read only the images of campaigns they belong to
(and the datasets those cover), without the fields that hint at an answer: no intended domain,
class, source path, meta (where an import's gold label lives) or the dataset's expected domain.
Creating datasets and starting imports needs the researcher role. Image bytes are served only
through these views, never as public static files, with private caching keyed on the content hash.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from domainsieve.api_errors import INT32_MAX
from domainsieve.auth import IsAnnotator, IsResearcher
from labeling.classnames import CLASS_SET_CHOICES
from labeling.ingest import FORMATS
from labeling.models import Dataset, Image, ImportJob
from labeling.selectors.datasets import (
    dataset_get,
    dataset_images,
    dataset_list,
    image_get,
    import_get,
    import_list,
    sees_everything,
)
from labeling.services.datasets import dataset_create, import_create


def _drf_error(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


class DatasetOut(serializers.ModelSerializer):
    image_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Dataset
        fields = ["id", "name", "kind", "expected_domain", "description", "image_count", "class_set", "created_at"]

    class_set = serializers.SerializerMethodField(help_text="class-name set zero-shot evaluation prompts with")

    def get_class_set(self, dataset: Dataset) -> str:
        return str((dataset.class_names or {}).get("set", ""))


class DatasetAnnotatorOut(serializers.ModelSerializer):
    """What an annotator reads of a dataset: no expected domain (a hint at every image's answer)."""

    image_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Dataset
        fields = ["id", "name", "kind", "image_count", "created_at"]


class DatasetIn(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Dataset.Kind.choices, default=Dataset.Kind.POOL)
    expected_domain = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")


class ImageOut(serializers.ModelSerializer):
    thumb_url = serializers.SerializerMethodField()
    file_url = serializers.SerializerMethodField()

    class Meta:
        model = Image
        fields = ["id", "dataset", "sha256", "width", "height", "format", "size_bytes", "uid", "key",
                  "source", "caption", "class_name", "intended_domain", "meta", "thumb_url", "file_url"]

    def get_thumb_url(self, image: Image) -> str:
        return f"/api/v1/images/{image.id}/thumb/"

    def get_file_url(self, image: Image) -> str:
        return f"/api/v1/images/{image.id}/file/"


class ImageAnnotatorOut(ImageOut):
    """What an annotator reads of an image: the pixels' facts and where to fetch them, nothing that
    hints at the answer (intended domain, class, source path, caption, meta with its gold label)."""

    class Meta(ImageOut.Meta):
        fields = ["id", "sha256", "width", "height", "format", "size_bytes", "thumb_url", "file_url"]


def _dataset_out(user: Any) -> type[serializers.ModelSerializer]:
    return DatasetOut if sees_everything(user) else DatasetAnnotatorOut


def _image_out(user: Any) -> type[serializers.ModelSerializer]:
    return ImageOut if sees_everything(user) else ImageAnnotatorOut


class ImportIn(serializers.Serializer):
    source = serializers.CharField(help_text="absolute server path inside settings.IMPORT_ROOTS; globs and "
                                             "brace patterns for webdataset shards")
    format = serializers.ChoiceField(choices=FORMATS, default="auto")
    sample = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=INT32_MAX, default=None)
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=INT32_MAX)
    class_names = serializers.ChoiceField(choices=CLASS_SET_CHOICES, default="auto",
                                          help_text="class-name set for folder keys (auto-detected by default)")


class ImportOut(serializers.ModelSerializer):
    summary = serializers.CharField(read_only=True)
    rejects_url = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = ["id", "dataset", "source", "format", "options", "status", "total", "done", "imported",
                  "duplicates", "rejected", "cross_dataset_duplicates", "summary", "rejects_url", "error",
                  "created_at", "started_at", "finished_at"]

    def get_rejects_url(self, job: ImportJob) -> str:
        return f"/api/v1/imports/{job.id}/rejects/"


class DatasetListApi(APIView):
    """GET: every role. POST: researcher or admin."""

    def get_permissions(self) -> list[BasePermission]:
        return [IsResearcher()] if self.request.method == "POST" else [IsAnnotator()]

    @extend_schema(responses=DatasetOut(many=True))
    def get(self, request: Request) -> Response:
        return Response(_dataset_out(request.user)(dataset_list(user=request.user), many=True).data)

    @extend_schema(request=DatasetIn, responses={201: DatasetOut})
    def post(self, request: Request) -> Response:
        data = DatasetIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            dataset = dataset_create(**data.validated_data, user=request.user)
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None
        dataset = dataset_get(user=request.user, dataset_id=dataset.id)
        return Response(DatasetOut(dataset).data, status=status.HTTP_201_CREATED)


class DatasetDetailApi(APIView):
    @extend_schema(responses=DatasetOut)
    def get(self, request: Request, dataset_id: int) -> Response:
        return Response(_dataset_out(request.user)(dataset_get(user=request.user, dataset_id=dataset_id)).data)


class DatasetImagesApi(generics.ListAPIView):
    """Images of a dataset, paginated (``?page=N``); annotators get those of their campaigns."""

    serializer_class = ImageOut

    def get_serializer_class(self) -> type[serializers.ModelSerializer]:
        if getattr(self, "swagger_fake_view", False):  # the schema documents the full shape
            return ImageOut
        return _image_out(self.request.user)

    def get_queryset(self) -> QuerySet[Image]:
        dataset = dataset_get(user=self.request.user, dataset_id=self.kwargs["dataset_id"])
        return dataset_images(dataset=dataset, user=self.request.user)


class DatasetImportsApi(APIView):
    """GET: this dataset's import jobs. POST: start an import (202; it runs on a worker)."""

    permission_classes = [IsResearcher]

    @extend_schema(responses=ImportOut(many=True))
    def get(self, request: Request, dataset_id: int) -> Response:
        dataset = dataset_get(user=request.user, dataset_id=dataset_id)
        return Response(ImportOut(import_list(user=request.user, dataset=dataset), many=True).data)

    @extend_schema(request=ImportIn, responses={202: ImportOut})
    def post(self, request: Request, dataset_id: int) -> Response:
        dataset = dataset_get(user=request.user, dataset_id=dataset_id)
        data = ImportIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            job = import_create(dataset=dataset, user=request.user, **data.validated_data)
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None
        return Response(ImportOut(job).data, status=status.HTTP_202_ACCEPTED)


class ImportDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=ImportOut)
    def get(self, request: Request, job_id: int) -> Response:
        return Response(ImportOut(import_get(user=request.user, job_id=job_id)).data)


class _AnyAccept(BaseContentNegotiation):
    """File views answer bytes whatever the Accept header says (an <img> asks for image/*)."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return parsers[0]

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> tuple[Any, str]:
        return renderers[0], renderers[0].media_type


class ImportRejectsApi(APIView):
    permission_classes = [IsResearcher]
    content_negotiation_class = _AnyAccept

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request, job_id: int) -> HttpResponse:
        job = import_get(user=request.user, job_id=job_id)
        rejects = Path(job.rejects_path) if job.rejects_path else None
        if rejects is None or not rejects.exists():
            raise NotFound("This import has no rejects file yet.")
        response = FileResponse(rejects.open("rb"), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="import-{job.id}-rejects.csv"'
        return response


class ImageDetailApi(APIView):
    @extend_schema(responses=ImageOut)
    def get(self, request: Request, image_id: int) -> Response:
        return Response(_image_out(request.user)(image_get(user=request.user, image_id=image_id)).data)


_CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif",
                  "bmp": "image/bmp", "tif": "image/tiff"}


def _media_response(request: Request, image: Image, relative: str) -> HttpResponse:
    """The file with private caching; 304 when the client already holds these bytes.

    The ETag is the content hash, so it never goes stale: a changed image is a new sha256.
    """
    etag = f'"{image.sha256}"'
    headers = {"ETag": etag, "Cache-Control": f"private, max-age={settings.MEDIA_CACHE_SECONDS}"}
    offered = request.headers.get("If-None-Match", "")
    if offered.strip() == "*" or etag in {tag.strip().removeprefix("W/") for tag in offered.split(",")}:
        return HttpResponse(status=304, headers=headers)
    file_path = Path(settings.MEDIA_ROOT) / relative
    if not file_path.is_file():
        raise NotFound("The image file is missing on the server.")
    content_type = _CONTENT_TYPES.get(file_path.suffix.lstrip(".").lower(), "application/octet-stream")
    response = FileResponse(file_path.open("rb"), content_type=content_type)
    for name, value in headers.items():
        response[name] = value
    return response


class ImageThumbApi(APIView):
    content_negotiation_class = _AnyAccept

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
    def get(self, request: Request, image_id: int) -> HttpResponse:
        image = image_get(user=request.user, image_id=image_id)
        return _media_response(request, image, image.thumb)


class ImageFileApi(APIView):
    content_negotiation_class = _AnyAccept

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY})
    def get(self, request: Request, image_id: int) -> HttpResponse:
        image = image_get(user=request.user, image_id=image_id)
        return _media_response(request, image, image.file)
