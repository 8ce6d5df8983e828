"""Parameter reading: single values, repeats and length limits (RFC 6749 §3.1)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ostiary.core.errors import InvalidRequest
from ostiary.core.params import MAX_PARAM_LENGTH, optional, repeated, required


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param([], None, id="no-values"),
        pytest.param([""], None, id="empty-counts-as-absent"),
        pytest.param(["x"], "x", id="single"),
        pytest.param(["x" * MAX_PARAM_LENGTH], "x" * MAX_PARAM_LENGTH, id="at-length-limit"),
    ],
)
def test_optional_accepts(values: Sequence[str] | None, expected: str | None) -> None:
    params = {} if values is None else {"p": values}
    assert optional(params, "p") == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param(["a", "b"], "p is repeated", id="repeated-different"),
        pytest.param(["a", "a"], "p is repeated", id="repeated-same"),
        pytest.param(["", ""], "p is repeated", id="repeated-empty"),
        pytest.param(["x" * (MAX_PARAM_LENGTH + 1)], "p is too long", id="over-length-limit"),
    ],
)
def test_optional_refuses(values: Sequence[str], message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        optional({"p": values}, "p")
    assert caught.value.description == message


def test_required_returns_value() -> None:
    assert required({"p": ["v"]}, "p") == "v"


@pytest.mark.parametrize(
    "values",
    [pytest.param(None, id="absent"), pytest.param([""], id="empty")],
)
def test_required_refuses_missing(values: Sequence[str] | None) -> None:
    params = {} if values is None else {"p": values}
    with pytest.raises(InvalidRequest) as caught:
        required(params, "p")
    assert caught.value.description == "p is required"


def test_repeated_keeps_every_non_empty_value() -> None:
    assert repeated({"r": ["a", "", "b", "a"]}, "r") == ["a", "b", "a"]
    assert repeated({}, "r") == []


def test_repeated_refuses_an_oversized_value() -> None:
    with pytest.raises(InvalidRequest):
        repeated({"r": ["a", "x" * (MAX_PARAM_LENGTH + 1)]}, "r")
