"""Helpers shared by the http, e2e and conformance tiers: real servers, real databases."""
