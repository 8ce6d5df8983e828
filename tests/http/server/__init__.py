"""The authorization server's HTTP surface: metadata, JWKS, pages, token endpoint, CORS."""
