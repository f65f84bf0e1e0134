"""Training REST API, one module per area: ``runs`` (runs, GPU hosts and the queue, eval results).
The URL patterns are in ``training.api_urls``."""
