"""Benchmarks of mlmon against a real Redis: `benchmarks/run.py` (see `make bench`).

A package so that RQ workers can import the job of the comparison, `benchmarks.rq_jobs`.
"""
