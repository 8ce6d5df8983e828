"""The resource-server layer: protect an MCP server with tokens from an authorization server."""
