"""Labeling pages, one module per area."""
