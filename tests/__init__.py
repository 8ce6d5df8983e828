"""Ostiary's test suite.

A package so that tiers are imported as ``tests.<tier>``: a tier called ``http`` must never
be importable as a top-level ``http`` (it would shadow the standard library's package).
"""
