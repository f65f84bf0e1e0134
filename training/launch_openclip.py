"""Run OpenCLIP's real training entry point after registering extra model configs.

``torchrun ... -m training.launch_openclip --model-config PATH [...] -- <open_clip_train args>``
is ``open_clip_train.main`` plus ``open_clip.add_model_config(PATH)`` inside every rank's process:
a config registered in the parent would not be seen by the processes torchrun starts. Kept free of
Django so a GPU host or Slurm node needs only open_clip_torch.
"""
from __future__ import annotations

import sys


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    configs: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--model-config" and i + 1 < len(argv):
            configs.append(argv[i + 1])
            i += 2
        else:
            rest.append(argv[i])
            i += 1
    return configs, rest


def main(argv: list[str] | None = None) -> int | None:
    import open_clip
    from open_clip_train.main import main as openclip_main

    configs, rest = split_argv(list(sys.argv[1:] if argv is None else argv))
    for path in configs:
        open_clip.add_model_config(path)
    return openclip_main(rest)


if __name__ == "__main__":
    code = main()
    sys.exit(code if isinstance(code, int) and code != 0 else 0)
