"""Registry names, versions from tags and their order, and signed download links."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackyard.core.errors import Invalid
from stackyard.core.modules import (
    Version,
    check_provider,
    check_registry_name,
    link_is_valid,
    link_signature,
    newest_first,
    registry_source,
    version_from_tag,
)

# Terraform's own rules (internal/registry/regsrc), written independently of ours.
TERRAFORM_NAME = re.compile(r"[0-9A-Za-z](?:[0-9A-Za-z-_]{0,62}[0-9A-Za-z])?")
TERRAFORM_PROVIDER = re.compile(r"[0-9a-z]{1,64}")
NAME_ALPHABET = st.characters(codec="ascii", categories=("L", "N", "P", "S", "Zs", "Cc"))


@given(st.text(NAME_ALPHABET, max_size=70))
def test_registry_names_are_accepted_exactly_when_terraform_would(text: str) -> None:
    accepted = True
    try:
        check_registry_name("namespace", text)
    except Invalid as error:
        accepted = False
        assert "namespace" in str(error) and "letter or digit" in str(error)
    assert accepted == bool(TERRAFORM_NAME.fullmatch(text))


@given(st.text(NAME_ALPHABET, max_size=70))
def test_providers_are_lowercase_letters_and_digits(text: str) -> None:
    try:
        check_provider(text)
        accepted = True
    except Invalid:
        accepted = False
    assert accepted == bool(TERRAFORM_PROVIDER.fullmatch(text))


@pytest.mark.parametrize(("tag", "version"), [
    ("v1.2.0", "1.2.0"), ("1.2.0", "1.2.0"), ("v0.0.1-rc.1", "0.0.1-rc.1"), ("v2.0.0+build.5", "2.0.0+build.5"),
    ("v1.2", None), ("release-1", None), ("vv1.2.0", None), ("v01.2.0", None), ("V1.2.0", None), ("v1.2.0\n", None),
    ("v1.2.0-", None), ("v1.0.0-01", None),
])
def test_versions_come_from_semver_tags_without_their_v(tag: str, version: str | None) -> None:
    assert version_from_tag(tag) == version


def test_semver_precedence() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
               "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"]  # semver.org, section 11
    shuffled = ordered[:]
    random.Random(7).shuffle(shuffled)
    assert newest_first(shuffled) == list(reversed(ordered))
    assert Version.parse("1.0.0+a") == Version.parse("1.0.0+b")


versions = st.builds(
    lambda nums, pre: f"{nums[0]}.{nums[1]}.{nums[2]}" + (f"-{pre}" if pre else ""),
    st.tuples(*[st.integers(0, 30)] * 3),
    st.one_of(st.none(), st.from_regex(r"(?:0|[1-9][0-9]{0,2}|[a-z][a-z0-9]{0,3})(?:\.(?:0|[1-9][0-9]?|[a-z]{1,3}))?",
                                       fullmatch=True)),
)


@given(versions, versions, versions)
def test_ordering_is_total_and_transitive(a: str, b: str, c: str) -> None:
    x, y, z = Version.parse(a), Version.parse(b), Version.parse(c)
    assert (x < y) + (y < x) + (x == y) == 1
    if x <= y <= z:
        assert x <= z
    assert str(Version.parse(a)) == a  # parsing keeps the text


def test_registry_source_uses_the_public_urls_host_and_port() -> None:
    assert registry_source("https://stackyard.example.com", namespace="p", name="n", provider="aws") == \
        "stackyard.example.com/p/n/aws"
    assert registry_source("http://127.0.0.1:8080", namespace="p", name="n", provider="aws") == "127.0.0.1:8080/p/n/aws"


def test_links_are_valid_for_their_path_and_until_they_expire() -> None:
    key = b"k" * 32
    signature = link_signature(key, path="/a/1.0.0.tar.gz", expires=1000)
    assert link_is_valid(key, path="/a/1.0.0.tar.gz", expires=1000, signature=signature, now=999.5)
    assert not link_is_valid(key, path="/a/1.0.0.tar.gz", expires=1000, signature=signature, now=1000.5)
    assert not link_is_valid(key, path="/a/1.0.1.tar.gz", expires=1000, signature=signature, now=0)
    assert not link_is_valid(key, path="/a/1.0.0.tar.gz", expires=2000, signature=signature, now=0)
    assert not link_is_valid(b"x" * 32, path="/a/1.0.0.tar.gz", expires=1000, signature=signature, now=0)
