"""The YAML reader's fast path for plain floats agrees with PyYAML's resolver."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcli.language.yamlread import _PLAIN_FLOAT, read_yaml

NUMBERISH = st.text(alphabet="0123456789.+-eE_:", min_size=1, max_size=12)
WORDISH = st.text(alphabet="abnotyfxNTYFO~_.0123456789-:<=", min_size=0, max_size=8)


@settings(max_examples=2000, deadline=None)
@given(NUMBERISH)
def test_a_plain_float_is_what_the_resolver_makes_a_float(text: str) -> None:
    resolved = yaml.SafeLoader("").resolve(yaml.ScalarNode, text, (True, False))
    if _PLAIN_FLOAT.fullmatch(text):
        assert resolved == "tag:yaml.org,2002:float", text


def assert_read_as_safe_load(document: str) -> None:
    try:
        expected = yaml.safe_load(document)
    except (yaml.YAMLError, ValueError):
        return  # the reader's refusals are tested in test_hostile*.py
    assert read_yaml(document, "s.yaml").data == expected


@settings(max_examples=500, deadline=None)
@given(NUMBERISH)
def test_values_are_those_of_safe_load(text: str) -> None:
    assert_read_as_safe_load(f"v: {text}\n")


@settings(max_examples=2000, deadline=None)
@given(WORDISH)
def test_keys_and_words_are_those_of_safe_load(text: str) -> None:
    assert_read_as_safe_load(f"k{text}: {text}\n{text or 'e'}: 1\n")
