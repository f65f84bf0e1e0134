"""Labeling services (writes), one module per area."""
