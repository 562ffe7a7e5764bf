"""Model families. `registry.py` is the one place a family is registered."""
