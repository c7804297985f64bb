"""Metrics, traces and the answer recorder (audit trail, feedback capture)."""
