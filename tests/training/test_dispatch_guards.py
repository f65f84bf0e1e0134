"""Training dispatch runs no researcher-chosen code on the app's hosts: environment variables come
from an allowlist, extra OpenCLIP arguments are read with OpenCLIP's own parser and must be on an
allowlist, and every path a run reads resolves (symlinks followed) inside the data roots. Each
refusal is a 400 with the reason (API), a form error (page) and a command error (CLI)."""
from __future__ import annotations

import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from domainsieve.dataroots import data_roots
from tests.training.conftest import write_shards
from training.guards import (
    ALLOWED_FLAGS,
    PATH_FLAGS,
    REFUSED_REASONS,
    RUN_FIELD_FLAGS,
    DispatchRefused,
    extra_args_check,
    openclip_parser,
)
from training.models import TrainingRun
from training.services.placement import training_queue_place
from training.services.runs import training_run_launch, training_run_poll

pytestmark = pytest.mark.django_db


def _body(shard_sets: dict[str, Path], **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "guarded", "gpus": 1, "workers": 0, "global_batch": 8, "model": "DS-Tiny", "device": "cpu",
        "precision": "fp32", "dry_run": True,
        "mixture": {"preset": "laion_natural", "natural": str(shard_sets["natural"])}}
    body.update(extra)
    return body


def _post(api: type, user: object, body: dict[str, object]) -> tuple[int, str]:
    out = api(user).post("/api/v1/training-runs/", body, format="json")
    assert out.status_code != 500
    return out.status_code, out.json().get("detail", "") if out.status_code == 400 else ""


# ---------------------------------------------------------------- environment


@pytest.mark.parametrize("env,reason", [
    # The pair that ran `id` on a train worker: PYTHONWARNINGS imports antigravity, which opens $BROWSER.
    ({"PYTHONWARNINGS": "ignore::antigravity.Foo", "BROWSER": "sh -c id"}, "is not an allowed variable"),
    ({"LD_PRELOAD": "/tmp/evil.so"}, "'LD_PRELOAD' is not an allowed variable"),
    ({"PYTHONPATH": "/tmp"}, "'PYTHONPATH' is not an allowed variable"),
    ({"NCCL_NET_PLUGIN": "evil"}, "'NCCL_NET_PLUGIN' is not an allowed variable"),
    ({"CUDA_INJECTION64_PATH": "/tmp/evil.so"}, "'CUDA_INJECTION64_PATH' is not an allowed variable"),
    ({"NCCL_DEBUG_FILE": "/etc/cron.d/x"}, "'NCCL_DEBUG_FILE' is not an allowed variable"),
    ({"NCCL_DEBUG": "INFO\nBROWSER=sh"}, "NCCL_DEBUG must be one line"),
    ({"OMP_NUM_THREADS": {"nested": 1}}, "OMP_NUM_THREADS must be a string or a number"),
])
def test_it_refuses_environment_variables_off_the_allowlist(api: type, researcher: object, media_root: Path,
                                                          shard_sets: dict[str, Path], env: dict, reason: str) -> None:
    for dry_run in (True, False):
        status, detail = _post(api, researcher, _body(shard_sets, dry_run=dry_run, backend_options={"env": env}))
        assert status == 400 and reason in detail, detail
    assert not TrainingRun.objects.exists()


def test_it_accepts_tuning_variables(api: type, researcher: object, media_root: Path,
                                     shard_sets: dict[str, Path]) -> None:
    env = {"NCCL_DEBUG": "INFO", "NCCL_SOCKET_IFNAME": "eth0", "OMP_NUM_THREADS": 4, "CUDA_LAUNCH_BLOCKING": "1",
           "TORCH_NCCL_ASYNC_ERROR_HANDLING": "1", "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}
    out = api(researcher).post("/api/v1/training-runs/", _body(shard_sets, dry_run=False,
                                                              backend_options={"env": env}), format="json")
    assert out.status_code == 201, out.content
    assert TrainingRun.objects.get().backend_options["env"]["OMP_NUM_THREADS"] == "4"


@pytest.mark.parametrize("options,reason", [
    ({"environment": {"X": "1"}}, "unknown key(s) environment"),
    ({"cpus_per_task": "many"}, "cpus_per_task: a whole number"),
    ({"setup": "module load cuda"}, "setup: a list of strings, each one line"),
    ({"python": "python\nid"}, "python: one line of text"),
    ({"eval_datasets": ["1; DROP"]}, "eval_datasets: a list of test set ids"),
    ({"env": ["OMP_NUM_THREADS=1"]}, "env: an object of NAME: value"),
])
def test_it_refuses_malformed_backend_options(api: type, researcher: object, media_root: Path,
                                              shard_sets: dict[str, Path], options: dict, reason: str) -> None:
    status, detail = _post(api, researcher, _body(shard_sets, backend_options=options))
    assert status == 400 and reason in detail, detail


def test_it_never_starts_a_stored_run_with_a_forbidden_environment(tmp_path: Path, gpu_host: object) -> None:
    """A row written before the guards (or by hand): the launching worker checks again and the
    BROWSER/PYTHONWARNINGS pair never runs its command."""
    marker = tmp_path / "pwned"
    env = {"PYTHONWARNINGS": "ignore::antigravity.Foo", "BROWSER": f"touch {marker} %s"}
    run = TrainingRun.objects.create(name="old-row", logs_dir=str(tmp_path / "logs"), backend="local", plan={},
                                     mixture={}, command=[sys.executable, "-c", "pass"],
                                     backend_options={"env": env})
    assert training_queue_place() == [run.id]  # on this host's declared GPUs (gpu_host)
    run = training_run_launch(run_id=run.id)
    assert run.status == "failed" and "is not an allowed variable" in run.error
    time.sleep(1.0)
    assert not marker.exists()


def test_it_passes_allowed_variables_to_the_process(tmp_path: Path, gpu_host: object) -> None:
    out = tmp_path / "env.txt"
    script = f"import os; open({str(out)!r}, 'w').write(os.environ.get('NCCL_DEBUG', 'unset'))"
    run = TrainingRun.objects.create(name="env-row", logs_dir=str(tmp_path / "logs"), backend="local", plan={},
                                     mixture={}, command=[sys.executable, "-c", script],
                                     backend_options={"env": {"NCCL_DEBUG": "WARN"}})
    assert training_queue_place() == [run.id]
    run = training_run_launch(run_id=run.id)
    deadline = time.monotonic() + 20
    while run.status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        run = training_run_poll(run=run)
    assert out.read_text() == "WARN"


# ---------------------------------------------------------------- extra_args


@pytest.mark.parametrize("extra_args,reason", [
    (["--logs", "/tmp/elsewhere"], "--logs is not allowed: it moves the run's folder"),
    (["--name", "../../../etc"], "--name is not allowed"),
    (["--remote-sync", "s3://bucket/x"], "--remote-sync is not allowed"),
    (["--copy-codebase"], "--copy-codebase is not allowed"),
    (["--report-to", "wandb"], "--report-to is not allowed"),
    (["--torchscript"], "--torchscript is not allowed"),
    (["--cache-dir", "/tmp/c"], "--cache-dir is not allowed"),
    (["--log", "/tmp/x"], "--log is not an OpenCLIP training option"),  # argparse would take the abbreviation
    (["--no-such-flag"], "--no-such-flag is not an OpenCLIP training option"),
    (["run.py"], "expected an OpenCLIP option, got 'run.py'"),
    (["--lr"], "--lr needs a value"),
    (["--lr", "fast"], "invalid float value: 'fast'"),
    (["--image-interpolation", "nearest"], "invalid choice: 'nearest'"),
    (["--model", "RN50"], "--model is set by the run's model"),
    (["--train-data", "/etc/{a,b}.tar"], "--train-data is set by the run's mixture"),
    (["--pretrained", "/etc/passwd"], "outside the data roots"),
    (["--pretrained", "no_such_tag"], "'no_such_tag' is not a pretrained tag of DS-Tiny"),
    (["--resume", "/root/epoch_1.pt"], "outside the data roots"),
    (["--imagenet-val", "/etc"], "outside the data roots"),
    (["--val-data", "/etc/{00000..00001}.tar"], "outside the data roots"),
    (["--lr", "1e-4\n--logs"], "may not contain newlines"),
    ("--lr 1e-4", "a list of strings"),
])
def test_it_refuses_extra_args_that_are_unknown_or_off_the_allowlist(
        api: type, researcher: object, media_root: Path, shard_sets: dict[str, Path], extra_args: object,
        reason: str) -> None:
    status, detail = _post(api, researcher, _body(shard_sets, backend_options={"extra_args": extra_args}))
    assert status == 400 and reason in detail, detail


def test_it_passes_allowed_extra_args_through(api: type, researcher: object, media_root: Path,
                                              shard_sets: dict[str, Path]) -> None:
    checkpoint = media_root.parent / "ckpt" / "epoch_3.pt"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"not really a checkpoint")
    extra = ["--lr", "5e-4", "--warmup=10", "--grad-checkpointing", "--aug-cfg", "scale=(0.9,1.0)",
             "--image-mean", "0.5", "0.5", "0.5", "--pretrained", str(checkpoint), "--resume", "latest"]
    out = api(researcher).post("/api/v1/training-runs/", _body(shard_sets, backend_options={"extra_args": extra}),
                               format="json")
    assert out.status_code == 200, out.content
    command = out.json()["command"]
    assert command[-len(extra):] == extra


def test_it_classifies_every_openclip_option() -> None:
    """Each option OpenCLIP's parser knows is allowed, path-checked, set by the run or refused
    with a reason; nothing on the lists is unknown to the parser (a renamed flag fails here)."""
    known = {o for o in openclip_parser()._option_string_actions if o.startswith("--")}
    classified = ALLOWED_FLAGS | set(PATH_FLAGS) | set(RUN_FIELD_FLAGS) | set(REFUSED_REASONS)
    assert classified <= known, classified - known
    assert known <= classified, known - classified
    with pytest.raises(DispatchRefused):
        extra_args_check(["--logs", "x"], model="ViT-B-32")


# ---------------------------------------------------------------- paths


def test_it_refuses_shards_outside_the_data_roots_without_looking(api: type, researcher: object,
                                                                  media_root: Path) -> None:
    for spec in ("/etc/*.tar", "/var/lib/{00000..00009}.tar", "/etc", "../../etc/x.tar"):
        status, detail = _post(api, researcher, _body({"natural": Path(spec)}))
        assert status == 400 and "outside the data roots" in detail and "no shards match" not in detail, detail


def test_it_refuses_a_symlink_escaping_a_data_root(api: type, researcher: object, media_root: Path,
                                                   tmp_path_factory: pytest.TempPathFactory,
                                                   shard_sets: dict[str, Path]) -> None:
    outside = tmp_path_factory.mktemp("outside-the-roots")
    write_shards(outside / "shards", shards=3, per_shard=8)
    assert not any(outside.is_relative_to(root) for root in data_roots())
    inside = media_root.parent
    # A folder link and a single-file link, both inside a root, both pointing out of it.
    (inside / "linked-folder").symlink_to(outside / "shards", target_is_directory=True)
    (inside / "single").mkdir()
    (inside / "single" / "00000.tar").symlink_to(outside / "shards" / "00000.tar")
    for spec in (inside / "linked-folder", inside / "linked-folder" / "{00000..00002}.tar", inside / "single"):
        status, detail = _post(api, researcher, _body({"natural": spec}))
        assert status == 400 and "outside the data roots" in detail, (spec, detail)
    # Weights behind a link: refused as well.
    (outside / "weights.pt").write_bytes(b"x")
    (inside / "weights.pt").symlink_to(outside / "weights.pt")
    status, detail = _post(api, researcher, _body(shard_sets, backend_options={
        "extra_args": ["--pretrained", str(inside / "weights.pt")]}))
    assert status == 400 and "outside the data roots" in detail
    # The same shards copied inside the roots are fine.
    write_shards(inside / "copied", shards=3, per_shard=8)
    status, detail = _post(api, researcher, _body({"natural": inside / "copied"}))
    assert status == 200, detail


def test_it_honours_the_data_roots_setting(settings: object, media_root: Path, tmp_path: Path) -> None:
    settings.DATA_ROOTS = [tmp_path / "only-here"]
    assert data_roots() == [(tmp_path / "only-here").resolve()]
    settings.DATA_ROOTS = []
    assert set(data_roots()) >= {media_root.resolve(), (tmp_path / "artifacts").resolve(), tmp_path.resolve()}


def test_it_refuses_a_model_name_that_is_a_path(api: type, researcher: object, media_root: Path,
                                                shard_sets: dict[str, Path]) -> None:
    status, detail = _post(api, researcher, _body(shard_sets, model="../../../tmp/evil"))
    assert status == 400 and "model: an open_clip architecture name" in detail


# ---------------------------------------------------------------- page and command


def test_it_shows_the_refusal_on_the_page(researcher: object, media_root: Path, shard_sets: dict[str, Path]) -> None:
    client = Client()
    client.force_login(researcher)
    form = {"name": "page-run", "preset": "laion_natural", "natural": str(shard_sets["natural"]), "unit": 8,
            "model": "DS-Tiny", "epochs": 1, "global_batch": 8, "gpus": 1, "nodes": 1, "precision": "fp32",
            "workers": 0, "device": "cpu", "backend": "local",
            "backend_options": '{"env": {"BROWSER": "sh -c id"}}', "action": "launch"}
    page = client.post("/training/", form)
    assert page.status_code == 400  # the form comes back with the reason
    assert "is not an allowed variable" in page.content.decode()
    assert not TrainingRun.objects.exists()


def test_it_fails_the_command_clearly(media_root: Path, shard_sets: dict[str, Path]) -> None:
    base = ["cli-run", "--preset", "laion_natural", "--natural", str(shard_sets["natural"]), "--gpus", "1",
            "--workers", "0", "--global-batch", "8", "--model", "DS-Tiny", "--device", "cpu", "--precision", "fp32"]
    for options, reason in (('{"env": {"PYTHONWARNINGS": "ignore::antigravity.Foo"}}', "not an allowed variable"),
                            ('{"extra_args": ["--logs", "/tmp"]}', "--logs is not allowed")):
        with pytest.raises(CommandError, match=reason):
            call_command("launch_training", *base, "--backend-options", options, stdout=StringIO(),
                         stderr=StringIO())
    assert not TrainingRun.objects.exists()
