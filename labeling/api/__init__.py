"""Labeling REST API, one module per area."""
