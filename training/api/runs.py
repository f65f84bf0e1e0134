"""API: training runs (create with a dry-run preview, cancel, resume, log, priority), the GPU hosts
of the local backend with the queue of waiting runs, and eval results.

Everything here needs the researcher role: it spends GPU hours.
"""
from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from domainsieve.api_errors import INT32_MAX, bad_request
from domainsieve.auth import IsResearcher
from domainsieve.ids import parse_id
from domainsieve.jobs import JobStatus
from training.models import EvalResult, TrainGpu, TrainHost, TrainingRun
from training.selectors.runs import (
    eval_result_list,
    train_host_list,
    training_queue_list,
    training_queue_positions,
    training_run_get,
    training_run_list,
)
from training.services.placement import MAX_PRIORITY, PlacementError, training_run_set_priority
from training.services.runs import (
    TrainingInputError,
    run_log_tail,
    training_run_cancel,
    training_run_create,
    training_run_preview,
    training_run_resume,
)


class TrainingRunOut(serializers.ModelSerializer):
    """Pass ``queue_positions`` in the context to serialize many runs with one queue read."""

    command_line = serializers.CharField(read_only=True)
    queue_position = serializers.SerializerMethodField(help_text="1-based place in the GPU queue while waiting")

    def get_queue_position(self, run: TrainingRun) -> int | None:
        positions = self.context.get("queue_positions")
        if positions is None:
            positions = training_queue_positions() if run.status == JobStatus.QUEUED else {}
        return positions.get(run.id)

    class Meta:
        model = TrainingRun
        fields = ["id", "name", "mixture", "plan", "model", "model_config", "epochs", "global_batch",
                  "per_gpu_batch", "accum", "gpus", "nodes", "precision", "workers", "device", "backend",
                  "backend_options", "logs_dir", "command", "command_line", "script", "status", "state_detail",
                  "error", "pid", "job_id", "host", "log_path", "exit_code", "epoch", "step", "samples_seen",
                  "loss", "checkpoints", "cancel_requested", "attempts", "priority", "queued_at", "devices",
                  "queue_position", "evaluations_pending", "created_at", "started_at", "finished_at"]


class TrainingRunIn(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    mixture = serializers.JSONField(help_text='{"preset": "mix_8_8", "natural": "...", "rendition": "..."} or '
                                              '{"sources": [{"name", "shards", "ratio"|"count"}], "total": N}')
    model = serializers.CharField(max_length=80, default="ViT-B-32")
    epochs = serializers.IntegerField(min_value=1, max_value=INT32_MAX, default=32)
    global_batch = serializers.IntegerField(min_value=1, max_value=INT32_MAX, default=16384)
    gpus = serializers.IntegerField(min_value=1, max_value=INT32_MAX, default=8)
    nodes = serializers.IntegerField(min_value=1, max_value=INT32_MAX, default=1)
    per_gpu_batch = serializers.IntegerField(min_value=1, max_value=INT32_MAX, required=False, allow_null=True, default=None)
    max_per_gpu_batch = serializers.IntegerField(min_value=1, max_value=INT32_MAX, required=False, allow_null=True, default=None)
    precision = serializers.CharField(default="amp")
    workers = serializers.IntegerField(min_value=0, max_value=INT32_MAX, default=6)
    device = serializers.ChoiceField(choices=["cuda", "cpu"], default="cuda")
    backend = serializers.ChoiceField(choices=TrainingRun.Backend.values, default="local")
    backend_options = serializers.JSONField(required=False, default=dict)
    dry_run = serializers.BooleanField(default=False, help_text="return the command and plan; launch nothing")

    def validate_mixture(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("an object")
        return value

    def validate_backend_options(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("an object")
        return value



class TrainingRunListApi(generics.ListAPIView):
    permission_classes = [IsResearcher]
    serializer_class = TrainingRunOut

    def get_queryset(self) -> Any:
        return training_run_list()

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "queue_positions": training_queue_positions()}

    @extend_schema(request=TrainingRunIn, responses={201: TrainingRunOut, 200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = TrainingRunIn(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        dry_run = params.pop("dry_run")
        try:
            if dry_run:
                return Response(training_run_preview(**params))
            run = training_run_create(created_by=request.user, **params)
        except TrainingInputError as exc:
            return bad_request(exc)
        run.refresh_from_db()  # the placement pass ran on commit: host and devices, or a queue position
        return Response(TrainingRunOut(run).data, status=status.HTTP_201_CREATED)


class TrainingRunLogOut(serializers.Serializer):
    status = serializers.CharField()
    epoch = serializers.IntegerField(allow_null=True)
    step = serializers.IntegerField(allow_null=True)
    loss = serializers.FloatField(allow_null=True)
    log = serializers.CharField(help_text="the last 16 KiB of the run's log")
    evaluations_pending = serializers.IntegerField(help_text="zero-shot evaluations queued, not finished")


class TrainingRunDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=TrainingRunOut)
    def get(self, request: Request, run_id: int) -> Response:
        return Response(TrainingRunOut(training_run_get(user=request.user, run_id=run_id)).data)


class TrainingRunLogApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=TrainingRunLogOut)
    def get(self, request: Request, run_id: int) -> Response:
        run = training_run_get(user=request.user, run_id=run_id)
        return Response({"status": run.status, "epoch": run.epoch, "step": run.step, "loss": run.loss,
                         "log": run_log_tail(run=run), "evaluations_pending": run.evaluations_pending})


class TrainingRunCancelApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(request=None, responses={202: TrainingRunOut})
    def post(self, request: Request, run_id: int) -> Response:
        try:
            run = training_run_cancel(run=training_run_get(user=request.user, run_id=run_id))
        except TrainingInputError as exc:
            return bad_request(exc)
        return Response(TrainingRunOut(run).data, status=status.HTTP_202_ACCEPTED)


class TrainingRunResumeApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(request=None, responses={202: TrainingRunOut})
    def post(self, request: Request, run_id: int) -> Response:
        try:
            run = training_run_resume(run=training_run_get(user=request.user, run_id=run_id))
        except TrainingInputError as exc:
            return bad_request(exc)
        return Response(TrainingRunOut(run).data, status=status.HTTP_202_ACCEPTED)


class PriorityIn(serializers.Serializer):
    priority = serializers.IntegerField(min_value=-MAX_PRIORITY, max_value=MAX_PRIORITY,
                                        help_text="higher is served first; equal priorities first in, first out")


class TrainingRunPriorityApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(request=PriorityIn, responses={200: TrainingRunOut})
    def post(self, request: Request, run_id: int) -> Response:
        run = training_run_get(user=request.user, run_id=run_id)
        data = PriorityIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            run = training_run_set_priority(run=run, priority=data.validated_data["priority"])
        except PlacementError as exc:
            return bad_request(exc)
        run.refresh_from_db()
        return Response(TrainingRunOut(run).data)


class TrainGpuOut(serializers.ModelSerializer):
    run = serializers.SerializerMethodField(help_text="the run holding this device, or null when free")

    class Meta:
        model = TrainGpu
        fields = ["index", "model", "memory_mb", "run", "allocated_at"]

    def get_run(self, gpu: TrainGpu) -> dict[str, Any] | None:
        return {"id": gpu.run.id, "name": gpu.run.name, "status": gpu.run.status} if gpu.run else None


class TrainHostOut(serializers.ModelSerializer):
    gpus = TrainGpuOut(many=True, read_only=True)
    free = serializers.IntegerField(read_only=True, help_text="GPUs placement may hand out now (0 when lost or silent)")
    stale = serializers.BooleanField(read_only=True, help_text="up, but its heartbeat is overdue: gets no runs")

    class Meta:
        model = TrainHost
        fields = ["name", "queue", "status", "stale", "gpu_count", "gpu_model", "gpu_memory_mb", "gpu_source", "free",
                  "worker", "registered_at", "last_heartbeat", "lost_at", "gpus"]


class TrainQueueOut(serializers.ModelSerializer):
    position = serializers.IntegerField(read_only=True)

    class Meta:
        model = TrainingRun
        fields = ["position", "id", "name", "gpus", "device", "priority", "queued_at", "state_detail"]


class TrainHostListApi(APIView):
    """Every GPU host of the local backend, its devices and which run holds each."""

    permission_classes = [IsResearcher]

    @extend_schema(responses=TrainHostOut(many=True))
    def get(self, request: Request) -> Response:
        return Response(TrainHostOut(train_host_list(), many=True).data)


class TrainQueueApi(APIView):
    """Local runs waiting for GPUs, in the order they will be placed."""

    permission_classes = [IsResearcher]

    @extend_schema(responses=TrainQueueOut(many=True))
    def get(self, request: Request) -> Response:
        waiting = training_queue_list()
        for position, run in enumerate(waiting, start=1):
            run.position = position
        return Response(TrainQueueOut(waiting, many=True).data)


class EvalResultOut(serializers.ModelSerializer):
    class Meta:
        model = EvalResult
        fields = ["id", "training_run", "model", "checkpoint", "epoch", "dataset", "test_set", "domain", "clean",
                  "top1", "top5", "n", "n_classes", "templates", "created_at"]


class EvalRequestIn(serializers.Serializer):
    training_run = serializers.IntegerField(required=False, allow_null=True, default=None)
    model = serializers.CharField(max_length=80, required=False, default="")
    checkpoint = serializers.CharField(max_length=500, required=False, default="",
                                       help_text="a checkpoint path or a pretrained tag")
    epochs = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=INT32_MAX), required=False, default=list,
                                   help_text="epochs of the run's checkpoints (default: all)")
    datasets = serializers.ListField(child=serializers.IntegerField(), min_length=1)
    clean = serializers.ListField(child=serializers.BooleanField(), required=False, default=lambda: [False, True])


class EvalResultListApi(generics.ListAPIView):
    permission_classes = [IsResearcher]
    serializer_class = EvalResultOut

    def get_queryset(self) -> Any:
        runs = self.request.query_params.get("training_run")
        run_ids = [i for r in runs.split(",") if (i := parse_id(r)) is not None] if runs else None
        return eval_result_list(run_ids=run_ids, test_set=self.request.query_params.get("test_set"))

    @extend_schema(request=EvalRequestIn, responses={202: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        from training.services.zeroshot import ZeroShotInputError, zeroshot_request_enqueue

        data = EvalRequestIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            request_out = zeroshot_request_enqueue(**data.validated_data)
        except ZeroShotInputError as exc:
            return bad_request(exc)
        return Response(request_out, status=status.HTTP_202_ACCEPTED)

