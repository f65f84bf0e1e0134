"""Classifier pages, one module per area."""
