"""Shell completion callbacks (click's `shell_complete`), for bash, zsh and
fish through click's own mechanism (`_GRADCLI_COMPLETE=bash_source gradcli`,
see docs/completion.md):

- the SPEC argument completes spec files (`*.yaml`, `*.yml`) and folders;
- `--wrt` completes the sources the spec offers: float inputs, let names,
  models (all their trainable parameters) and parameter names (`net.1.kernel`);
- `--set` completes `NAME=` for the spec's inputs (`NAME=VALUE` with the
  current value when it is a plain number, ready to edit), and `plot --over`
  completes `NAME=` for the float inputs.

Completion runs on every Tab press, so it reads the spec's YAML only (no
arrays loaded, no graph built) and never fails: anything unexpected gives no
suggestions rather than a traceback in the user's shell.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click
    from click.shell_completion import CompletionItem

SPEC_SUFFIXES = (".yaml", ".yml")
MAX_SPEC_BYTES = 2_000_000  # a spec bigger than this is data, not worth reading per Tab
INTEGER_DTYPES = ("int64", "int32", "bool")


@dataclass(frozen=True)
class SpecNames:
    """What a spec names, read from its YAML without loading anything."""

    inputs: dict[str, Any] = field(default_factory=dict)  # name -> raw YAML value
    integer_inputs: frozenset[str] = frozenset()
    lets: tuple[str, ...] = ()
    models: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> parameters
    frozen: frozenset[str] = frozenset()  # parameters that are not trainable


def _item(value: str, kind: str = "plain", help: str | None = None) -> CompletionItem:
    from click.shell_completion import CompletionItem

    return CompletionItem(value, type=kind, help=help)


# ---- SPEC paths ----------------------------------------------------------------------

def complete_spec(ctx: click.Context, param: click.Parameter,
                  incomplete: str) -> list[CompletionItem]:
    """Spec files and folders under what was typed; anything else the shell's
    own file completion (a spec may have any name)."""
    try:
        return _spec_paths(incomplete)
    except Exception:  # noqa: BLE001 - completion must never break the shell
        return []


def _spec_paths(incomplete: str) -> list[CompletionItem]:
    folder, prefix = os.path.split(incomplete)
    try:
        entries = sorted(os.scandir(os.path.expanduser(folder) or "."), key=lambda e: e.name)
    except OSError:
        return [_item(incomplete, "file")]
    visible = [e for e in entries if e.name.startswith(prefix)
               and (prefix.startswith(".") or not e.name.startswith("."))]
    specs = [os.path.join(folder, e.name) for e in visible
             if e.name.endswith(SPEC_SUFFIXES) and _is_file(e)]
    has_folders = any(_is_dir(e) for e in visible)
    if not specs and not has_folders:
        return [_item(incomplete, "file")]
    # "dir" lets the shell complete folders; bash shows them only when no spec
    # file matches (its -o dirnames is a fallback), zsh and fish show both.
    items = [_item(incomplete, "dir")] if has_folders else []
    return items + [_item(path) for path in specs]


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


# ---- names in a spec ---------------------------------------------------------------

def read_names(path: str) -> SpecNames:
    """The names a spec defines; an empty SpecNames if it cannot be read."""
    import yaml

    from gradcli.errors import SpecError
    from gradcli.language.files import read_text

    try:
        # a regular file only: a FIFO would hang the user's Tab key (files.py)
        data = yaml.safe_load(read_text(path, "spec file", None, MAX_SPEC_BYTES))
    except (SpecError, yaml.YAMLError, RecursionError):
        return SpecNames()
    if not isinstance(data, dict):
        return SpecNames()
    inputs = _mapping(data.get("inputs"))
    integer = frozenset(name for name, value in inputs.items() if _is_integer(value))
    found = {str(name): list(_parameters(str(name), body))
             for name, body in _mapping(data.get("models")).items()}
    models = {name: tuple(p for p, _ in params) for name, params in found.items()}
    frozen = frozenset(p for params in found.values() for p, trainable in params
                       if not trainable)
    # a let key "a, b" binds two names (a list of arrays unpacked)
    lets = tuple(n.strip() for k in _mapping(data.get("let")) for n in str(k).split(",")
                 if n.strip())
    return SpecNames({str(k): v for k, v in inputs.items()}, integer, lets, models, frozen)


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _is_integer(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    return value.get("dtype") in INTEGER_DTYPES or value.get("random") == "integers"


def _parameters(model: str, body: Any) -> Iterable[tuple[str, bool]]:
    """(MODEL.INDEX.PART, trainable) for every parameter of the layers that
    read, as the loader names them (the layer registry, which loads no
    numpy); a layer with a mistake in it offers none."""
    from gradcli.errors import SpecError
    from gradcli.language.layers import REGISTRY, parse_layer
    from gradcli.language.yamldoc import Document

    layers = _mapping(body).get("layers")
    doc = Document(None, "<completion>")
    for index, item in enumerate(layers if isinstance(layers, list) else []):
        try:
            layer = parse_layer(doc, ("layers", index), index, item)
        except SpecError:
            continue
        for spec in REGISTRY[layer.kind].params(layer.options, None):
            yield f"{model}.{index}.{spec.part}", spec.trainable


def _names_in_context(ctx: click.Context) -> SpecNames:
    spec, sets = _command_line(ctx)
    if spec:
        return read_names(spec)
    # -e EXPR: the inputs are the --set names given so far
    names = [item.partition("=")[0].strip() for item in sets if "=" in item]
    return SpecNames({name: None for name in names if name})


def _command_line(ctx: click.Context) -> tuple[str | None, list[str]]:
    """The SPEC and the --set values typed so far.

    click's own parse (`ctx.params`) loses the positional SPEC when the word
    being completed is an option's missing value (`grad s.yaml --wrt <TAB>`),
    so the words of the command line are read again here, from the same
    COMP_WORDS variable click's completion scripts set; that also finds a
    SPEC typed after the option.
    """
    import click
    from click.shell_completion import split_arg_string

    spec = ctx.params.get("spec")
    sets = list(ctx.params.get("sets") or ())
    words = split_arg_string(os.environ.get("COMP_WORDS", ""))
    if spec or not words:
        return spec, sets
    takes_value = {name for p in ctx.command.params if isinstance(p, click.Option)
                   and not p.is_flag and not p.count for name in p.opts}
    start = words.index(ctx.info_name) + 1 if ctx.info_name in words else 1
    sets, index = [], start
    while index < len(words):
        word = words[index]
        if word in takes_value:
            if word == "--set" and index + 1 < len(words):
                sets.append(words[index + 1])
            index += 2
            continue
        if word.startswith("--set="):
            sets.append(word[len("--set="):])
        elif not word.startswith("-") and spec is None:
            spec = word
        index += 1
    return spec, sets


# ---- --wrt and --set ---------------------------------------------------------------

def complete_wrt(ctx: click.Context, param: click.Parameter,
                 incomplete: str) -> list[CompletionItem]:
    """Sources of the spec on the command line so far (components are typed)."""
    try:
        names = _names_in_context(ctx)
        candidates: list[tuple[str, str]] = [
            (name, "input") for name in names.inputs if name not in names.integer_inputs]
        candidates += [(name, "let") for name in names.lets]
        for model, parameters in names.models.items():
            trainable = [p for p in parameters if p not in names.frozen]
            candidates.append((model, f"model: its {len(trainable)} trainable parameters"))
            candidates += [(p, f"parameter of {model}" + (" (not trainable)"
                                                          if p in names.frozen else ""))
                           for p in parameters]
        return [_item(name, help=what) for name, what in candidates
                if name.startswith(incomplete)]
    except Exception:  # noqa: BLE001 - completion must never break the shell
        return []


def complete_set(ctx: click.Context, param: click.Parameter,
                 incomplete: str) -> list[CompletionItem]:
    """`NAME=` for every input; `NAME=VALUE` when the current value is a number."""
    try:
        names = _names_in_context(ctx)
        items = []
        for name, value in names.inputs.items():
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            text = f"{name}={value!r}" if number else f"{name}="
            if text.startswith(incomplete):
                items.append(_item(text, help="input"))
        return items
    except Exception:  # noqa: BLE001 - completion must never break the shell
        return []


def complete_over(ctx: click.Context, param: click.Parameter,
                  incomplete: str) -> list[CompletionItem]:
    """`NAME=` for the float inputs (the range is the user's to type)."""
    try:
        names = _names_in_context(ctx)
        return [_item(f"{name}=", help="input") for name in names.inputs
                if name not in names.integer_inputs and f"{name}=".startswith(incomplete)]
    except Exception:  # noqa: BLE001 - completion must never break the shell
        return []
