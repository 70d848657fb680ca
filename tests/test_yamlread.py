"""The YAML reader's fast paths for plain floats and integers agree with
PyYAML's resolver and constructors."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcli.language.yamlread import _PLAIN_FLOAT, _PLAIN_INT, read_yaml

NUMBERISH = st.text(alphabet="0123456789.+-eE_:", min_size=1, max_size=12)
INTISH = st.text(alphabet="0123456789+-_", min_size=1, max_size=22)
WORDISH = st.text(alphabet="abnotyfxNTYFO~_.0123456789-:<=", min_size=0, max_size=8)


@settings(max_examples=4000, deadline=None)
@given(st.one_of(NUMBERISH, INTISH))
def test_plain_numbers_are_what_the_resolver_and_constructors_make(text: str) -> None:
    resolved = yaml.SafeLoader("").resolve(yaml.ScalarNode, text, (True, False))
    for pattern, tag in ((_PLAIN_FLOAT, "float"), (_PLAIN_INT, "int")):
        if pattern.fullmatch(text):
            assert resolved == f"tag:yaml.org,2002:{tag}", text
            assert_read_as_safe_load(f"v: {text}\n")


def assert_read_as_safe_load(document: str) -> None:
    try:
        expected = yaml.safe_load(document)
    except (yaml.YAMLError, ValueError):
        return  # the reader's refusals are tested in test_hostile*.py
    # repr tells 1 from 1.0 and True, and matches nan with nan
    assert repr(read_yaml(document, "s.yaml").data) == repr(expected)


@settings(max_examples=500, deadline=None)
@given(NUMBERISH)
def test_values_are_those_of_safe_load(text: str) -> None:
    assert_read_as_safe_load(f"v: {text}\n")


@settings(max_examples=2000, deadline=None)
@given(WORDISH)
def test_keys_and_words_are_those_of_safe_load(text: str) -> None:
    assert_read_as_safe_load(f"k{text}: {text}\n{text or 'e'}: 1\n")
