"""Benchmarks that print JSON figures (never part of ``make test``); see bench/README.md."""
