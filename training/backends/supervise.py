"""Run a command, then record its exit code in a file: ``python -m training.backends.supervise
--exit-file PATH -- CMD...``.

The Celery worker that starts a training run returns at once, so nobody waits on the process;
this small parent does, and leaves the exit code where the periodic poll reads it. It shares the
command's process group, so cancelling (SIGTERM to the group) reaches torchrun and its ranks.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    if "--" not in argv or argv[:1] != ["--exit-file"]:
        print("usage: supervise --exit-file PATH -- CMD...", file=sys.stderr)
        return 2
    exit_file = Path(argv[1])
    command = argv[argv.index("--") + 1:]
    child = subprocess.Popen(command)
    signalled: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        signalled.append(signum)
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = child.wait()
    tmp = exit_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"exit_code": code, "signalled": bool(signalled), "finished": time.time(),
                               "pid": os.getpid()}))
    os.replace(tmp, exit_file)
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
