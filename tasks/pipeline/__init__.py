"""The `test_service` pipeline: stage outcomes, the combined report, the typed result."""
