"""Developer scripts (run them as files; tests import their functions)."""
