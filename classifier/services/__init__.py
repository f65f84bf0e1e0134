"""Classifier services (writes and the work jobs do), one module per area."""
