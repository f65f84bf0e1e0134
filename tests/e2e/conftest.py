"""Browser tests: fixtures live in tests/browser.py, registered by tests/conftest.py."""
