"""Benchmarks of the restaurant's own machinery (`make bench`)."""
