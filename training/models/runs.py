"""Models of the training app: CLIP training runs, the GPU hosts of the local backend and their
devices, and zero-shot evaluation results."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from domainsieve.jobs import JobFields, JobStatus


class TrainingRun(JobFields):
    """One OpenCLIP training run. The process (torchrun or a Slurm job) lives outside Celery;
    this row records what was launched and what the periodic poll last saw."""

    class Backend(models.TextChoices):
        LOCAL = "local"
        SLURM = "slurm"

    # queued -> launching -> running -> succeeded | failed | cancelled | lost (domainsieve.jobs)
    RESUMABLE = (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.LOST)

    name = models.CharField(max_length=120, unique=True)
    mixture = models.JSONField(default=dict, help_text="the request: preset or sources, total")
    plan = models.JSONField(default=dict, help_text="the computed mixture (factors, shares, samples)")
    model = models.CharField(max_length=80, default="ViT-B-32")
    model_config = models.CharField(max_length=500, blank=True, default="")
    epochs = models.PositiveIntegerField(default=32)
    global_batch = models.PositiveIntegerField(default=16384)
    per_gpu_batch = models.PositiveIntegerField(default=2048)
    accum = models.PositiveIntegerField(default=1)
    gpus = models.PositiveIntegerField(default=8)
    nodes = models.PositiveIntegerField(default=1)
    precision = models.CharField(max_length=16, default="amp")
    workers = models.PositiveIntegerField(default=6)
    device = models.CharField(max_length=16, default="cuda")
    backend = models.CharField(max_length=8, choices=Backend.choices, default=Backend.LOCAL)
    backend_options = models.JSONField(default=dict, blank=True)
    logs_dir = models.CharField(max_length=500)
    command = models.JSONField(default=list, help_text="argv as launched")
    script = models.TextField(blank=True, default="", help_text="the sbatch script (slurm)")
    state_detail = models.CharField(max_length=120, blank=True, default="", help_text="raw backend state")
    pid = models.IntegerField(null=True, blank=True)
    job_id = models.CharField(max_length=64, blank=True, default="")
    host = models.CharField(max_length=200, blank=True, default="")
    log_path = models.CharField(max_length=500, blank=True, default="")
    exit_code = models.IntegerField(null=True, blank=True)
    epoch = models.PositiveIntegerField(null=True, blank=True)
    step = models.PositiveIntegerField(null=True, blank=True)
    samples_seen = models.PositiveBigIntegerField(null=True, blank=True)
    loss = models.FloatField(null=True, blank=True)
    checkpoints = models.JSONField(default=list, blank=True, help_text="[{epoch, path, bytes}]")
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    priority = models.IntegerField(default=0, help_text="the GPU queue serves higher first, then first in")
    queued_at = models.DateTimeField(default=timezone.now, help_text="when it (re)joined the GPU queue")
    devices = models.JSONField(default=list, blank=True,
                               help_text="GPU indices on its host, as allocated (local backend)")
    evaluations_pending = models.PositiveIntegerField(
        default=0, help_text="zero-shot evaluation requests queued and not finished (the page polls while > 0)")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def command_line(self) -> str:
        import shlex

        return shlex.join(self.command)


class TrainHost(models.Model):
    """A machine running a ``train`` worker for the local backend. The worker registers it on start
    and heartbeats; placement hands out its GPUs (``TrainGpu`` rows) to runs."""

    class Status(models.TextChoices):
        UP = "up"
        LOST = "lost"  # heartbeat stopped for TRAIN_HOST_LOST_SECONDS; back to up when it registers

    name = models.CharField(max_length=100, unique=True)
    queue = models.CharField(max_length=110, help_text="the worker's own queue, train.<name>")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.UP)
    gpu_count = models.PositiveIntegerField(default=0)
    gpu_model = models.CharField(max_length=100, blank=True, default="")
    gpu_memory_mb = models.PositiveIntegerField(default=0, help_text="memory per GPU")
    gpu_source = models.CharField(max_length=16, blank=True, default="",
                                  help_text="declared (TRAIN_HOST_GPUS), nvidia-smi or none")
    worker = models.CharField(max_length=200, blank=True, default="", help_text="the Celery node name")
    registered_at = models.DateTimeField(default=timezone.now)
    last_heartbeat = models.DateTimeField(default=timezone.now)
    lost_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.status}, {self.gpu_count} GPU)"


class TrainGpu(models.Model):
    """One device of a host. ``run`` is the holder: one column, so a device can never hold two
    runs; placement fills it under row locks, the end of the run empties it."""

    host = models.ForeignKey(TrainHost, on_delete=models.CASCADE, related_name="gpus")
    index = models.PositiveIntegerField(help_text="nvidia-smi index (PCI bus order)")
    model = models.CharField(max_length=100, blank=True, default="")
    memory_mb = models.PositiveIntegerField(default=0)
    run = models.ForeignKey(TrainingRun, null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="gpu_allocations")
    allocated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["host_id", "index"]
        constraints = [models.UniqueConstraint(fields=["host", "index"], name="traingpu_host_index_unique")]

    def __str__(self) -> str:
        return f"{self.host.name}:{self.index}"


class EvalResult(models.Model):
    """Zero-shot top-1/top-5 of one checkpoint (or pretrained tag) on one test set."""

    training_run = models.ForeignKey(TrainingRun, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="eval_results")
    model = models.CharField(max_length=80)
    checkpoint = models.CharField(max_length=500, help_text="checkpoint path or pretrained tag")
    epoch = models.PositiveIntegerField(null=True, blank=True)
    dataset = models.ForeignKey("labeling.Dataset", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="eval_results")
    test_set = models.CharField(max_length=200, help_text="test set name (kept if the dataset goes)")
    domain = models.CharField(max_length=16, blank=True, default="", help_text="natural or rendition")
    clean = models.BooleanField(default=False)
    top1 = models.FloatField()
    top5 = models.FloatField()
    n = models.PositiveIntegerField()
    n_classes = models.PositiveIntegerField(default=0)
    templates = models.PositiveIntegerField(default=80)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["training_run_id", "epoch", "test_set", "clean"]
        constraints = [
            models.UniqueConstraint(fields=["checkpoint", "test_set", "clean"], name="evalresult_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.checkpoint} on {self.test_set}{' (clean)' if self.clean else ''}: {self.top1:.3f}"
