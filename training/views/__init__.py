"""Training pages, one module per area: ``runs`` (runs, GPU hosts and the queue, results). The URL
patterns are in ``training.urls``."""
