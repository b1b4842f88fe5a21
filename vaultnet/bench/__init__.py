"""Benchmarks behind `vaultnet bench ...`: they print figures and never assert timings."""
