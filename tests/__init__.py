"""The test suite, by concern (one folder each); shared fixtures in conftest.py, helpers in helpers/."""
