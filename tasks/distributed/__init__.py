"""Distributed load: one logical k6 run split into execution segments (shards), each run on
a distributed engine (Dask through prefect-dask, or one Prefect deployment run per shard),
started together and merged back into one RunResult with exact counts and percentiles from
merged HDR histograms."""
