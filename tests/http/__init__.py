"""In-process HTTP tests: the Starlette app driven through ``httpx.ASGITransport``."""
