"""Ostiary: a complete OAuth 2.1 authorization layer for remote MCP servers."""

__version__ = "0.1.0"
