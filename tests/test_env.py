"""Settings helpers refuse bad values instead of guessing."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from mintmark.env import env_choice, env_sizes


def test_choice_reads_the_value_case_insensitively(monkeypatch):
    monkeypatch.setenv("X_MODE", " BFloat16 ")
    assert env_choice("X_MODE", "float16", ("float16", "bfloat16")) == "bfloat16"
    monkeypatch.delenv("X_MODE")
    assert env_choice("X_MODE", "float16", ("float16", "bfloat16")) == "float16"


def test_choice_refuses_other_values(monkeypatch):
    monkeypatch.setenv("X_MODE", "fp8")
    with pytest.raises(ImproperlyConfigured, match="not one of float16, bfloat16"):
        env_choice("X_MODE", "float16", ("float16", "bfloat16"))


@pytest.mark.parametrize(("raw", "sizes"), [("8, 1,4", (1, 4, 8)), ("", ()), (" 2 ,", (2,))])
def test_sizes_are_read_ascending(monkeypatch, raw, sizes):
    monkeypatch.setenv("X_SIZES", raw)
    assert env_sizes("X_SIZES", "1") == sizes


@pytest.mark.parametrize(
    ("raw", "message"),
    [("1,two", "not an integer"), ("0,4", "at least 1"), ("4,4", "repeats"), ("-2", "at least 1")],
)
def test_sizes_refuse(monkeypatch, raw, message):
    monkeypatch.setenv("X_SIZES", raw)
    with pytest.raises(ImproperlyConfigured, match=message):
        env_sizes("X_SIZES", "1")
