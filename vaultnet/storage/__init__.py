"""Persistence: one sqlite database per vault holding persona records and chunk copies."""
