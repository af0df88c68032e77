"""Benchmarks of the Lambda package (not deployed: template.yaml's CodeUri is functions/ only)."""
