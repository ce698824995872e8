"""Secret values never reach a log line, whole or line by line."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stackyard.runner.masking import Masker


def test_masks_every_occurrence_longest_first() -> None:
    masker = Masker(["abc", "abcdef", "xy"])
    assert masker.mask("abcdef abc xyz abcd") == "*** *** ***z ***d"


def test_short_values_are_masked_and_empty_ones_ignored() -> None:
    assert Masker(["", "7"]).mask("a7b") == "a***b"
    assert Masker([]).mask("nothing") == "nothing"
    assert Masker(["", "   "]).mask("a  b") == "a  b"


def test_regex_characters_are_literal() -> None:
    assert Masker(["a.c", "(x)"]).mask("abc a.c (x)") == "abc *** ***"


def test_multi_line_value_is_masked_in_whole_text_and_per_line() -> None:
    masker = Masker(["-----BEGIN KEY-----\nMIIEpAIB\n-----END KEY-----"])
    text = "key:\n-----BEGIN KEY-----\nMIIEpAIB\n-----END KEY-----\ndone"
    assert "MIIEpAIB" not in masker.mask(text)
    assert [masker.mask(line) for line in text.splitlines()] == ["key:", "***", "***", "***", "done"]


# Without "*" in the alphabet, a secret found after masking can only be one the masker missed
# (with it, text around a mask could spell a secret such as "a*" anew).
NO_STAR = st.characters(blacklist_characters="*")


@given(
    st.lists(st.text(NO_STAR, min_size=1, max_size=12).filter(str.strip), min_size=1, max_size=5),
    st.text(NO_STAR, max_size=30),
)
def test_no_secret_survives_in_any_surrounding(secrets: list[str], filler: str) -> None:
    masker = Masker(secrets)
    for secret in secrets:
        assert secret not in masker.mask(filler + secret + filler)
        for line in secret.splitlines():
            if line.strip():
                assert line not in masker.mask(filler + line + filler)
