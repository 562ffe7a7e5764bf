"""Pydantic models of the spec file. Importing this package never imports torch."""
