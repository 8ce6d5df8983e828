"""Benchmark harnesses (not tests: nothing here asserts on timings).

``python -m bench.token_endpoint`` measures the token endpoint of a real ``ostiary serve``
against a floor server; see ``bench/README.md``.
"""
