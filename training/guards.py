"""What a researcher may add to a training run's process, checked before anything starts.

The train worker starts runs on the app's own GPU hosts (local backend) as the service account, so
nothing a researcher types may choose code to run there or files to write elsewhere:

- ``backend_options`` keys: only the ones a backend reads (``OPTION_KEYS``).
- ``backend_options.env``: only harmless tuning variables (``ENV_NAMES``, or an ``ENV_PREFIXES``
  name that names no file, path, library or plugin), values of at most 256 characters without
  newlines or NUL. ``PYTHONWARNINGS`` + ``BROWSER``, ``LD_PRELOAD``, ``PYTHONPATH``,
  ``NCCL_NET_PLUGIN`` or ``CUDA_INJECTION64_PATH`` would each make a rank load or run code.
- ``backend_options.extra_args``: read with OpenCLIP's own argument parser
  (``open_clip_train.params``). Every flag must be an exact OpenCLIP option (no abbreviations) and
  on ``ALLOWED_FLAGS`` (tuning) or ``PATH_FLAGS`` (whose value, a checkpoint or data path, must lie
  inside the data roots); values must parse with OpenCLIP's types and choices.
- Shards, checkpoints and weights a run reads resolve (symlinks followed) inside the data roots
  (``domainsieve.dataroots``); ``training_shards_check`` does it for a shard spec before any file
  is opened.

Each refusal is a ``DispatchRefused`` whose message names the option and the reason; the API
answers it with 400, ``launch_training`` with a command error.
"""
from __future__ import annotations

import argparse
import re
import threading
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from domainsieve.dataroots import DataRootError, resolve_in_data_roots, static_prefix
from domainsieve.shards import expand_spec, spec_parts

OPTION_KEYS = frozenset({
    "env", "extra_args", "eval_datasets",  # every backend
    "partition", "account", "time", "cpus_per_task", "python", "workdir", "setup", "sbatch",  # slurm
})

ENV_NAMES = frozenset({
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
    "TOKENIZERS_PARALLELISM", "PYTORCH_CUDA_ALLOC_CONF", "CUBLAS_WORKSPACE_CONFIG",
    "TORCH_DISTRIBUTED_DEBUG", "TORCH_SHOW_CPP_STACKTRACES", "TORCH_CPP_LOG_LEVEL",
})
ENV_PREFIXES = ("NCCL_", "CUDA_", "TORCH_NCCL_")
# A prefixed name with one of these words points a library at a file, a path or code to load
# (NCCL_NET_PLUGIN, NCCL_CONF_FILE, NCCL_DEBUG_FILE, CUDA_INJECTION64_PATH, CUDA_CACHE_PATH).
ENV_FORBIDDEN_WORDS = ("PATH", "FILE", "PLUGIN", "LIB", "DIR", "INJECTION", "PRELOAD", "CONF", "SCRIPT", "CMD")
ENV_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,127}$")
ENV_VALUE_MAX = 256

# Tuning flags: numbers, switches and choices that change how the model trains, nothing it reads or writes.
ALLOWED_FLAGS = frozenset({
    "--lr", "--beta1", "--beta2", "--eps", "--wd", "--momentum", "--warmup", "--opt", "--use-bn-sync",
    "--skip-scheduler", "--lr-scheduler", "--lr-cooldown-end", "--lr-cooldown-power", "--epochs-cooldown",
    "--save-frequency", "--save-most-recent", "--delete-previous-checkpoint", "--zeroshot-frequency",
    "--val-frequency", "--val-num-samples", "--pretrained-image", "--lock-image", "--lock-image-unlocked-groups",
    "--lock-image-freeze-bn-stats", "--lock-text", "--lock-text-unlocked-layers", "--lock-text-freeze-layer-norm",
    "--image-mean", "--image-std", "--image-interpolation", "--image-resize-mode", "--aug-cfg",
    "--grad-checkpointing", "--local-loss", "--gather-with-grad", "--force-context-length", "--force-image-size",
    "--force-quick-gelu", "--force-patch-dropout", "--force-custom-text", "--torchcompile", "--seed",
    "--grad-clip-norm", "--log-every-n-steps", "--coca-caption-loss-weight", "--coca-contrastive-loss-weight",
    "--siglip", "--loss-dist-impl", "--ddp-static-graph", "--no-set-device-rank", "--debug", "--log-local",
})
# Flags whose value is something the run reads: allowed when it lies inside the data roots.
PATH_FLAGS = {
    "--pretrained": "tag_or_path",  # a pretrained tag of the run's model, or a checkpoint file
    "--resume": "latest_or_path",
    "--val-data": "shards",
    "--imagenet-val": "path",
    "--imagenet-v2": "path",
}
# Set from the run's own fields; a second value would contradict what the run records.
RUN_FIELD_FLAGS = {
    "--model": "model", "--epochs": "epochs", "--batch-size": "global_batch / per_gpu_batch",
    "--accum-freq": "global_batch / per_gpu_batch", "--precision": "precision", "--workers": "workers",
    "--device": "device", "--train-data": "mixture", "--train-num-samples": "mixture",
    "--train-data-upsampling-factors": "mixture", "--dataset-resampled": "mixture", "--dataset-type": "mixture",
    "--csv-separator": "mixture (webdataset shards)", "--csv-img-key": "mixture (webdataset shards)",
    "--csv-caption-key": "mixture (webdataset shards)",
}
REFUSED_REASONS = {
    "--logs": "it moves the run's folder outside the training logs folder",
    "--name": "the run's folder is named by the run's name",
    "--cache-dir": "it writes outside the run's folder",
    "--copy-codebase": "it copies code and runs the copy",
    "--remote-sync": "it copies the run to another place",
    "--remote-sync-frequency": "it copies the run to another place",
    "--remote-sync-protocol": "it copies the run to another place",
    "--report-to": "it sends the run to an outside service (the run reports to its own log)",
    "--wandb-notes": "it sends the run to an outside service",
    "--wandb-project-name": "it sends the run to an outside service",
    "--torchscript": "it loads TorchScript archives",
    "--trace": "it loads TorchScript archives",
    "--use-bnb-linear": "it imports a library chosen by name",
    "--distill-model": "distillation loads a second model; not offered",
    "--distill-pretrained": "distillation loads a second model; not offered",
    "--dist-url": "the backend sets how ranks connect",
    "--dist-backend": "the backend sets how ranks connect",
    "--horovod": "the backend sets how ranks connect",
    "--help": "it prints help instead of training",
}
TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}$")
# open_clip architecture names (ViT-B-32, coca_ViT-L-14, EVA02-L-14-336): no path separators, so a
# model name cannot point a config lookup at a file elsewhere.
MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


def model_name_ok(model: str) -> bool:
    return bool(MODEL_RE.match(model or "")) and ".." not in model


class DispatchRefused(ValueError):
    """An option that must not reach a training process; the message says which and why."""


# ---------------------------------------------------------------- backend_options


def backend_options_check(options: Any, *, model: str) -> dict[str, Any]:
    """``options`` with ``env`` and ``extra_args`` checked (and ``env`` values as strings);
    DispatchRefused on anything not allowed. Reads no file except to resolve paths."""
    if not isinstance(options, Mapping):
        raise DispatchRefused("backend_options: a JSON object")
    unknown = sorted(str(k) for k in options if k not in OPTION_KEYS)
    if unknown:
        raise DispatchRefused(f"backend_options: unknown key(s) {', '.join(unknown)}; allowed: "
                              f"{', '.join(sorted(OPTION_KEYS))}")
    out = dict(options)
    for key in ("partition", "account", "time", "python", "workdir"):
        if key in out and not _one_line_text(out[key]):
            raise DispatchRefused(f"backend_options.{key}: one line of text (at most 500 characters)")
    for key in ("setup", "sbatch"):
        if key in out and not (isinstance(out[key], list) and all(_one_line_text(v) for v in out[key])):
            raise DispatchRefused(f"backend_options.{key}: a list of strings, each one line")
    if "cpus_per_task" in out and not _int_in(out["cpus_per_task"], 1, 1024):
        raise DispatchRefused("backend_options.cpus_per_task: a whole number from 1 to 1024")
    if "eval_datasets" in out and not (isinstance(out["eval_datasets"], list)
                                       and all(_int_in(v, 1, 2**63 - 1) for v in out["eval_datasets"])):
        raise DispatchRefused("backend_options.eval_datasets: a list of test set ids")
    if "env" in out:
        out["env"] = env_check(out["env"])
    if "extra_args" in out:
        out["extra_args"] = extra_args_check(out["extra_args"], model=model)
    return out


def _one_line_text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 500 and not any(c in value for c in "\n\r\x00")


def _int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def env_name_allowed(name: str) -> bool:
    if not ENV_NAME_RE.match(name):
        return False
    if name in ENV_NAMES:
        return True
    return name.startswith(ENV_PREFIXES) and not any(word in name for word in ENV_FORBIDDEN_WORDS)


def env_check(env: Any) -> dict[str, str]:
    """The variables as strings; DispatchRefused for a name off the allowlist or a bad value."""
    if not isinstance(env, Mapping):
        raise DispatchRefused("backend_options.env: an object of NAME: value")
    out: dict[str, str] = {}
    for name, value in env.items():
        if not isinstance(name, str) or not env_name_allowed(name):
            raise DispatchRefused(
                f"backend_options.env: {name!r} is not an allowed variable; allowed are "
                f"{', '.join(sorted(ENV_NAMES))} and names starting {', '.join(ENV_PREFIXES)} that name no "
                "path, file, library or plugin")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise DispatchRefused(f"backend_options.env: {name} must be a string or a number")
        text = str(value)
        if any(c in text for c in "\n\r\x00") or len(text) > ENV_VALUE_MAX:
            raise DispatchRefused(f"backend_options.env: {name} must be one line of at most {ENV_VALUE_MAX} "
                                  "characters without NUL")
        out[name] = text
    return out


# ---------------------------------------------------------------- extra_args


class _ParserError(Exception):
    pass


class _CapturingParser(argparse.ArgumentParser):
    """OpenCLIP builds its parser inside ``parse_args``; this subclass hands it over instead of
    parsing sys.argv, and reports errors as exceptions instead of exiting."""

    captured: list[argparse.ArgumentParser] = []

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        _CapturingParser.captured.append(self)
        return argparse.Namespace(opt="timm")  # what params.parse_args reads before returning

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise _ParserError(message)


_parser_lock = threading.Lock()
_parser: argparse.ArgumentParser | None = None


def openclip_parser() -> argparse.ArgumentParser:
    """OpenCLIP's own training argument parser (``open_clip_train.params``), built once."""
    global _parser
    with _parser_lock:
        if _parser is None:
            from open_clip_train import params

            shim = types.SimpleNamespace(**{k: getattr(argparse, k) for k in dir(argparse) if not k.startswith("__")})
            shim.ArgumentParser = _CapturingParser
            original = params.argparse
            params.argparse = shim  # only this module's name; argparse itself is untouched
            try:
                params.parse_args([])
            finally:
                params.argparse = original
            _parser = _CapturingParser.captured.pop()
        return _parser


def _split_flags(args: list[str], parser: argparse.ArgumentParser) -> list[tuple[str, list[str]]]:
    """[(flag, values)] read the way argparse will read them, with exact option names only."""
    out: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("--") or token == "--":
            raise DispatchRefused(f"extra_args: expected an OpenCLIP option, got {token!r}")
        flag, has_value, inline = token.partition("=")
        action = parser._option_string_actions.get(flag)
        if action is None:
            raise DispatchRefused(f"extra_args: {flag} is not an OpenCLIP training option (names must be "
                                  "spelled out in full)")
        nargs = action.nargs
        i += 1
        if has_value:
            if nargs == 0:
                raise DispatchRefused(f"extra_args: {flag} takes no value")
            out.append((flag, [inline]))
            continue
        values: list[str] = []
        if nargs in (None, 1, "?"):
            if i < len(args) and not args[i].startswith("--"):
                values.append(args[i])
                i += 1
            elif nargs != "?":
                raise DispatchRefused(f"extra_args: {flag} needs a value")
        elif nargs in ("+", "*"):
            while i < len(args) and not args[i].startswith("--"):
                values.append(args[i])
                i += 1
        elif isinstance(nargs, int) and nargs > 1:
            values, i = args[i:i + nargs], i + nargs
        out.append((flag, values))
    return out


def extra_args_check(extra_args: Any, *, model: str) -> list[str]:
    """The arguments unchanged when every flag is allowed and parses; DispatchRefused otherwise."""
    if not isinstance(extra_args, list) or not all(isinstance(a, str) for a in extra_args):
        raise DispatchRefused("backend_options.extra_args: a list of strings, e.g. [\"--lr\", \"5e-4\"]")
    for arg in extra_args:
        if any(c in arg for c in "\n\r\x00"):
            raise DispatchRefused("extra_args: an argument may not contain newlines or NUL bytes")
    parser = openclip_parser()
    for flag, values in _split_flags(extra_args, parser):
        if flag in RUN_FIELD_FLAGS:
            raise DispatchRefused(f"extra_args: {flag} is set by the run's {RUN_FIELD_FLAGS[flag]}; change that "
                                  "instead")
        if flag in REFUSED_REASONS:
            raise DispatchRefused(f"extra_args: {flag} is not allowed: {REFUSED_REASONS[flag]}")
        if flag in PATH_FLAGS:
            for value in values:
                _check_path_value(flag, PATH_FLAGS[flag], value, model=model)
            continue
        if flag not in ALLOWED_FLAGS:
            raise DispatchRefused(f"extra_args: {flag} is not on the allowlist of tuning options")
    try:
        argparse.ArgumentParser.parse_args(parser, list(extra_args))
    except _ParserError as exc:
        raise DispatchRefused(f"extra_args: {exc}") from None
    return list(extra_args)


def looks_like_path(value: str) -> bool:
    return "/" in value or value.startswith((".", "~")) or not TAG_RE.match(value)


def _check_path_value(flag: str, kind: str, value: str, *, model: str) -> None:
    what = f"extra_args {flag}"
    if kind == "latest_or_path" and value == "latest":
        return
    if kind == "tag_or_path" and not looks_like_path(value):
        tags = _pretrained_tags(model)
        if value not in tags:
            known = ", ".join(sorted(tags)) or "none"
            raise DispatchRefused(f"{what}: {value!r} is not a pretrained tag of {model} (known: {known}) and "
                                  "not a checkpoint path")
        return
    try:
        if kind == "shards":
            training_shards_check(value, what=what)
            return
        path = resolve_in_data_roots(value, what=what)
    except DataRootError as exc:
        raise DispatchRefused(str(exc)) from None
    if not path.exists():
        raise DispatchRefused(f"{what}: {value} does not exist")


def _pretrained_tags(model: str) -> set[str]:
    import open_clip

    try:
        return set(open_clip.list_pretrained_tags_by_model(model))
    except Exception:  # noqa: BLE001 - an unknown model has no tags
        return set()


# ---------------------------------------------------------------- paths


def training_shards_check(spec: str, *, what: str) -> list[Path]:
    """Every shard a spec names, resolved inside the data roots. Each part's fixed folder is
    checked before the part is expanded, so a pattern outside the roots reveals nothing about
    what exists there; then every file found is resolved (a symlink pointing out is refused)."""
    parts = spec_parts(spec)
    if not parts:
        raise DispatchRefused(f"{what}: no shards named")
    try:
        for part in parts:
            resolve_in_data_roots(static_prefix(part), what=what)
        return [resolve_in_data_roots(p, what=what) for p in expand_spec(spec).found]
    except DataRootError as exc:
        raise DispatchRefused(str(exc)) from None


def checkpoint_path_check(path: str, *, what: str) -> Path:
    """A checkpoint or weights file the app will load: inside the data roots and present."""
    try:
        resolved = resolve_in_data_roots(path, what=what)
    except DataRootError as exc:
        raise DispatchRefused(str(exc)) from None
    if not resolved.is_file():
        raise DispatchRefused(f"{what}: {path} does not exist")
    return resolved
