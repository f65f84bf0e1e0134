"""DomainSieve: sort web-scale image data by visual domain, with people in the loop.

Importing this package loads nothing else: its pure helpers (``domainsieve.shards``) serve
Django-free code. The Celery app (``domainsieve.celery``) is loaded by ``DomainSieveConfig.ready()``
in every Django process, so tasks queued from the web bind to it, and by ``celery -A domainsieve``.
"""
