"""Training Celery tasks (queue: train), one module per area: ``runs`` (launch, the periodic poll,
zero-shot evaluation). Imported here so the worker registers them; their names are fixed
(``training.tasks.<function>``), whatever module holds them."""
from __future__ import annotations

from . import runs  # noqa: F401
