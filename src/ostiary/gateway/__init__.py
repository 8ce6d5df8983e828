"""The gateway: OAuth in front of an existing MCP server, stdio or HTTP, without changing it."""
