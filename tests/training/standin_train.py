"""A light stand-in for torchrun in the GPU pool tests (``TRAIN_LOCAL_STANDIN``): it records the
devices it was given, logs one OpenCLIP-style progress line, writes a complete checkpoint, then
waits until the test drops ``release`` in the run folder (exit 0) or SIGTERM ends it."""
from __future__ import annotations

import json
import os
import sys
import time
import zipfile
from pathlib import Path

MAX_SECONDS = 300  # never outlive a test run by much, whatever happens to it


def main() -> int:
    run_dir = Path(os.environ["DOMAINSIEVE_RUN_DIR"])
    seen = {"cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "cuda_device_order": os.environ.get("CUDA_DEVICE_ORDER"), "pid": os.getpid(), "argv": sys.argv,
            "started": time.time()}
    (run_dir / "standin.json").write_text(json.dumps(seen))
    print("Train Epoch: 0 [ 8/16 (50%)] Loss: 1.2500 (1.25)", flush=True)
    checkpoints = run_dir / "checkpoints"
    checkpoints.mkdir(exist_ok=True)
    with zipfile.ZipFile(checkpoints / "epoch_1.pt", "w") as archive:  # whole, as torch.save leaves it
        archive.writestr("data.pkl", b"stand-in")
    deadline = time.monotonic() + MAX_SECONDS
    while not (run_dir / "release").exists():
        if time.monotonic() > deadline:
            return 3
        time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
