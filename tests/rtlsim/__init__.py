"""Helpers for the RTL tests: small seeded models, an AXI memory model, simulator runners."""
