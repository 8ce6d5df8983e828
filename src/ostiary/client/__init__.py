"""The OAuth client for protected MCP servers: discovery, registration, the browser step, tokens.

``ostiary.client`` knows nothing of Ostiary's server side: it works against any authorization
server and MCP server that follow the MCP authorization specification.
"""
