"""Read ``WWW-Authenticate`` headers into ``Challenge`` objects (REQ-CL-1, RFC 9110 §11.6.1).

A response may carry several header lines, and each line several comma-separated
challenges; a comma also separates the auth-params of one challenge. A name followed by
``=`` is a parameter, a bare name starts the next challenge. Values are tokens or quoted
strings (``\\"`` and ``\\\\`` escapes); a token68 (``Basic dXNlcg==``) is tolerated and
ignored. The parser never raises: on garbage it returns what it could read.

Schemes are lower-cased (``Bearer`` and ``BEARER`` are one scheme), as are parameter
names; parameter values are kept as sent. A repeated parameter keeps its first value.
"""

from __future__ import annotations

import re

from ostiary.client.models import Challenge

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# token68 as the whole rest of a challenge: it must end the challenge (end or comma).
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*[ \t]*(?=,|$)")
# a token, "=", then a value: what separates ``realm=x`` from a token68 such as ``abc=``.
_PARAM_START = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]*=[ \t]*[^=, \t]")
_SPACE = " \t"


def parse_www_authenticate(header_values: list[str]) -> list[Challenge]:
    """Every challenge of every header value, in order."""
    challenges: list[Challenge] = []
    for value in header_values:
        challenges.extend(_Parser(value).challenges())
    return challenges


def bearer_challenge(header_values: list[str]) -> Challenge | None:
    """The first ``Bearer`` challenge (scheme compared case-insensitively), if any."""
    for challenge in parse_www_authenticate(header_values):
        if challenge.scheme == "bearer":
            return challenge
    return None


class _Parser:
    """A cursor over one header value."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def challenges(self) -> list[Challenge]:
        found: list[Challenge] = []
        while True:
            self._skip(_SPACE + ",")
            if self.pos >= len(self.text):
                return found
            if self._peek('"'):
                self._quoted()  # a stray quoted string: skipped whole, commas and all
                continue
            scheme = self._token()
            if scheme is None:
                self.pos += 1  # not a token: step over the stray character
                continue
            found.append(Challenge(scheme=scheme.lower(), params=self._params()))

    def _params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        self._skip(_SPACE)
        token68 = _TOKEN68.match(self.text, self.pos)
        if token68 is not None and not self._is_param_at(self.pos):
            self.pos = token68.end()
        while True:
            self._skip(_SPACE + ",")
            start = self.pos
            name = self._token()
            if name is None:
                if self.pos >= len(self.text) or self.text[self.pos] == ",":
                    return params
                self._skip_to_comma()  # garbage such as a stray quoted string
                continue
            self._skip(_SPACE)
            if not self._peek("="):
                self.pos = start  # a bare name starts the next challenge
                return params
            self.pos += 1
            self._skip(_SPACE)
            value = self._value()
            params.setdefault(name.lower(), value)

    def _is_param_at(self, pos: int) -> bool:
        """A token, optional spaces, one ``=``, then something other than the challenge's end."""
        return _PARAM_START.match(self.text, pos) is not None

    def _value(self) -> str:
        if self._peek('"'):
            return self._quoted()
        token = self._token()
        if token is not None:
            return token
        start = self.pos
        self._skip_to_comma()
        return self.text[start : self.pos].strip()

    def _quoted(self) -> str:
        """A quoted-string after its opening quote; an unterminated one runs to the end."""
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == '"':
                return "".join(out)
            if char == "\\" and self.pos < len(self.text):
                char = self.text[self.pos]
                self.pos += 1
            out.append(char)
        return "".join(out)

    def _token(self) -> str | None:
        match = _TOKEN.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return match.group()

    def _peek(self, char: str) -> bool:
        return self.text.startswith(char, self.pos)

    def _skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def _skip_to_comma(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] != ",":
            if self.text[self.pos] == '"':
                self._quoted()
                continue
            self.pos += 1
