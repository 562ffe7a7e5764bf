"""Spec → IR → nn.Module. `lower` resolves every auto value; `build` makes the module."""
