"""Example MCP servers built with the official ``mcp`` SDK, served by ``ostiary serve``."""
