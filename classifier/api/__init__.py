"""Classifier REST API, one module per area."""
