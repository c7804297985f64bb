"""Benchmarks: ingest, Ray, PDF extraction, search at scale, serving latency; and the loopback servers they
(and the tests) start."""
