"""Classifier selectors (reads, permission-checked fetch helpers), one module per area."""
