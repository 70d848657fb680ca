"""Benchmarks of gradcli against its peers (run: python -m benchmarks)."""
