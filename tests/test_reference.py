"""`gradcli ops`, docs/ops.md, `gradcli schema`, and the help of every command."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import schema_check  # tests/: jsonschema (the test extra) against `gradcli schema`
import yaml
from click.testing import CliRunner

from gradcli import __version__
from gradcli.cli.group import cli
from gradcli.engine.ops import TABLE
from gradcli.errors import SpecError
from gradcli.language.functions import CATALOGUE
from gradcli.language.reference import OTHER, catalogue_entries, render_markdown, render_text
from gradcli.language.schema import spec_schema
from gradcli.language.specfile import load_dict

ROOT = Path(__file__).parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


# ---- gradcli ops / docs/ops.md --------------------------------------------------------

def test_ops_lists_every_catalogue_function_with_its_signature_and_kink() -> None:
    code, out, err = run("ops")
    assert code == 0, err
    lines = out.splitlines()
    for function in CATALOGUE.values():
        assert f"  {function.signature}" in lines, function.name
        if function.kink:
            assert function.kink.split()[0] in out
    assert "relu'(0) = 0" in out
    assert "Primitives" in out
    for name in TABLE:
        assert any(line.split()[:1] == [name] for line in lines), name


def test_every_catalogue_function_has_a_family_and_a_description() -> None:
    entries = catalogue_entries()
    assert {e.name for e in entries} == set(CATALOGUE)
    assert [e.name for e in entries if e.family == OTHER] == []
    assert all(e.doc for e in entries)


def test_colour_only_when_asked() -> None:
    entries = [e for e in catalogue_entries() if e.name == "relu"]
    plain = render_text(entries, [], syntax=False)
    coloured = render_text(entries, [], syntax=False, color=True)
    assert "\033[" not in plain
    assert "\033[1mrelu(x)\033[0m" in coloured
    assert coloured.replace("\033[1m", "").replace("\033[0m", "") == plain
    _, out, _ = run("ops")  # CliRunner's stdout is not a terminal
    assert "\033[" not in out


def test_ops_with_names_shows_only_those() -> None:
    code, out, _ = run("ops", "relu", "max")
    assert code == 0
    assert "relu(x)" in out and "max(x, axis=None, keepdims=False)" in out
    assert "sigmoid(x)" not in out
    assert "Operators and syntax" not in out


def test_ops_unknown_name_is_a_usage_error_with_a_suggestion() -> None:
    code, out, err = run("ops", "relux")
    assert code == 2
    assert out == ""
    assert "did you mean 'relu'" in err


def test_ops_json_is_the_catalogue_and_the_table() -> None:
    code, out, _ = run("ops", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert {f["name"]: f["signature"] for f in doc["functions"]} == {
        name: f.signature for name, f in CATALOGUE.items()}
    assert [p["name"] for p in doc["primitives"]] == list(TABLE)


def test_docs_ops_md_is_generated_from_the_catalogue() -> None:
    """Regenerate with: python -m gradcli.language.reference > docs/ops.md"""
    on_disk = (ROOT / "docs" / "ops.md").read_text(encoding="utf-8")
    assert on_disk == render_markdown(), "docs/ops.md is stale: run " \
        "`python -m gradcli.language.reference > docs/ops.md`"
    code, out, _ = run("ops", "--format", "markdown")
    assert code == 0 and out == on_disk
    for function in CATALOGUE.values():
        assert f"| `{function.signature}` |" in on_disk


# ---- help and version --------------------------------------------------------------

def test_every_command_help_has_an_example_line() -> None:
    assert set(cli.commands) >= {"eval", "grad", "jacobian", "hessian", "jvp", "ops",
                                 "schema", "plot"}
    for name in cli.commands:
        code, out, err = run(name, "--help")
        assert code == 0, (name, err)
        examples = [line.strip() for line in out.splitlines()
                    if line.strip().startswith("Example: gradcli ")]
        assert examples, f"`gradcli {name} --help` has no 'Example: gradcli ...' line"
        assert examples[0].split()[2] == name, examples[0]


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and __version__ in out


# ---- gradcli schema ----------------------------------------------------------------

def _json_view(data: Any) -> Any:
    """What an editor validates: the YAML as JSON (integer keys become strings)."""
    return json.loads(json.dumps(data))


def _load_yaml(path: Path) -> Any:
    return _json_view(yaml.safe_load(path.read_text(encoding="utf-8")))


def test_schema_command_prints_the_schema() -> None:
    code, out, _ = run("schema")
    assert code == 0
    assert json.loads(out) == spec_schema()
    assert json.loads(out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_names_exactly_the_keys_the_loader_accepts() -> None:
    from gradcli.language import inputs, models
    from gradcli.language.specfile import EXPECT_KEYS, TOP_KEYS

    schema = spec_schema()
    defs = schema["$defs"]
    assert list(schema["properties"]) == list(TOP_KEYS)
    assert list(schema["properties"]["expect"]["properties"]) == list(EXPECT_KEYS)
    forms = {next(iter(f["required"])): set(f["properties"])
             for f in defs["input"]["anyOf"] if f.get("type") == "object"}
    assert forms == {"value": inputs.VALUE_KEYS, "random": inputs.RANDOM_KEYS,
                     "file": inputs.FILE_KEYS}
    assert list(defs["model"]["properties"]) == list(models.MODEL_KEYS)
    assert list(defs["model"]["properties"]["init"]["properties"]) == list(models.INIT_KEYS)
    from gradcli.language.layers import REGISTRY

    for name, kind in REGISTRY.items():  # every layer kind, every option it reads
        form = next(f for f in defs["layer"]["anyOf"] if name in f.get("properties", {}))
        value = form["properties"][name]
        body = next(f for f in value.get("anyOf", [value]) if f.get("type") == "object")
        assert list(body["properties"]) == list(kind.options.names), name
    weights = defs["model"]["properties"]["weights"]["anyOf"][1]
    assert list(weights["properties"]) == list(models.WEIGHTS_KEYS)


def test_schema_is_well_formed() -> None:
    assert schema_check.schema_problems(spec_schema()) == []


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_schema_validates_every_shipped_spec(path: Path) -> None:
    assert schema_check.errors(_load_yaml(path)) == []


BASE = {"inputs": {"x": 0.5, "w": [1.0, 2.0]}, "outputs": {"y": "sum(sin(x * w))"}}
BROKEN = {
    "unknown top-level key": {"ouputs": {"y": "x"}},
    "no outputs": {"outputs": None},
    "bad dtype": {"dtype": "float16"},
    "input without a value": {"inputs": {"x": None}},
    "boolean input": {"inputs": {"x": True}},
    "unknown input form": {"inputs": {"x": {"values": [1.0]}}},
    "bad random distribution": {"inputs": {"x": {"random": "gaussian", "shape": [2]}}},
    "extra key in a file input": {"inputs": {"x": {"file": "a.npy", "shape": [2]}}},
    "negative shape": {"inputs": {"x": {"value": 0.0, "shape": [-1]}}},
    "bad input name": {"inputs": {"2x": 1.0}},
    "expression is a list": {"outputs": {"y": ["x"]}},
    "wrt is a number": {"wrt": 3},
    "unknown expect key": {"expect": {"grads": {"x": 1.0}}},
    "unknown layer": {"models": {"net": {"layers": [{"conv": 3}]}}},
    "unknown activation": {"models": {"net": {"layers": [{"activation": "relu6"}]}}},
    "dense without units": {"models": {"net": {"layers": [{"dense": {"activation": "tanh"}}]}}},
    "init and weights": {"models": {"net": {"layers": [{"dense": 1}], "init": {"seed": 0},
                                            "weights": "w.npz"}}},
    "unknown initializer": {"models": {"net": {"layers": [{"dense": 1}],
                                               "init": {"kernel": "xavier"}}}},
}


def _merged(patch: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    for key, value in patch.items():
        if key in doc and isinstance(value, dict) and isinstance(doc[key], dict):
            doc[key] = {**doc[key], **value}
        else:
            doc[key] = value
    if "ouputs" in patch:
        del doc["outputs"]
    return doc


def test_the_base_document_is_valid_for_both() -> None:
    assert schema_check.errors(BASE) == []
    load_dict(copy.deepcopy(BASE))


@pytest.mark.parametrize("case", list(BROKEN))
def test_schema_rejects_a_broken_spec_that_the_loader_rejects(case: str) -> None:
    doc = _merged(BROKEN[case])
    assert schema_check.errors(_json_view(doc)), case
    with pytest.raises(SpecError):  # the schema is not stricter than gradcli itself
        load_dict(copy.deepcopy(doc), folder=ROOT / "specs")


# The loader reads expect: blocks lazily (`gradcli check` compares them), so
# these are errors only there; the schema flags them while the spec is written.
BROKEN_FOR_CHECK = {
    "expect order is not a number": {"expect": {"orders": {"two": {"x": 1.0}}}},
    "negative rtol": {"expect": {"rtol": -1.0}},
}


@pytest.mark.parametrize("case", list(BROKEN_FOR_CHECK))
def test_schema_rejects_a_broken_expect_block(case: str) -> None:
    doc = _merged(BROKEN_FOR_CHECK[case])
    assert schema_check.errors(_json_view(doc)), case


def test_real_jsonschema_agrees_when_installed() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = spec_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in SPECS:
        assert list(validator.iter_errors(_load_yaml(path))) == [], path.name
    for case, patch in {**BROKEN, **BROKEN_FOR_CHECK}.items():
        assert list(validator.iter_errors(_json_view(_merged(patch)))), case
