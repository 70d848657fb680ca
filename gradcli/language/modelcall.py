"""A spec-less call of a model file: `gradcli grad --model model.onnx --set
input=@x.npy` (DESIGN's `-e`, for a whole network).

The model is named `model` (or NAME with `--model NAME=FILE`); its inputs
are the file's input names as identifiers (`input.1` -> `input_1`), given
with --set; its outputs are the file's output names, each `model(inputs)`
(or one of its outputs).  With `-e EXPR` the model is a function in the
expression instead (`-e 'sum(model(x)**2)'`) and the output is y, as for -e."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gradcli.errors import Location, SpecError
from gradcli.language.importers import format_of, read_model
from gradcli.language.models import imported_model
from gradcli.language.names import is_name
from gradcli.language.specfile import Spec, from_document
from gradcli.language.yamldoc import Document

DEFAULT_NAME = "model"


def split_model_option(text: str) -> tuple[str, str]:
    """`NAME=FILE` or `FILE` -> (name, file); a path may hold '=' itself."""
    name, sep, path = text.partition("=")
    if sep and is_name(name):
        return name, path
    return DEFAULT_NAME, text


def model_spec_file(option: str, expr: str | None, set_names: list[str], dtype: str | None,
                    limit: int) -> Spec:
    name, path = split_model_option(option)
    where = Location("--model", 1, 1)
    if not path:
        raise SpecError("--model needs a file: --model model.onnx (or NAME=model.onnx)", where)
    found = read_model(format_of(path, where), Path(path), path, where, limit)
    ports = ", ".join(f"{p.ident} {p.shape_text()}" for p in found.inputs)
    if expr is not None:
        outputs = {"y": expr}
        doc_file = "--expr"
    else:
        clash = [p.ident for p in (*found.inputs, *found.outputs) if p.ident == name]
        if clash:
            raise SpecError(f"the model file has an input or output named '{name}': name the "
                            f"model otherwise, --model NAME={path}", where)
        missing = [p.ident for p in found.inputs if p.ident not in set_names]
        if missing:
            sets = " ".join(f"--set {m}=@{m}.npy" for m in missing)
            raise SpecError(f"give the model's inputs with --set ({sets}); its inputs are: "
                            f"{ports}", where)
        call = f"{name}({', '.join(p.ident for p in found.inputs)})"
        many = len(found.outputs) > 1
        outputs = {p.ident: f"{call}[{k}]" if many else call
                   for k, p in enumerate(found.outputs)}
        doc_file = "--model"
    locations = {("outputs", key): where for key in outputs}
    spec = from_document(Document({"outputs": outputs}, doc_file, locations), Path.cwd(),
                         dtype, limit)
    if name in set_names:
        raise SpecError(f"--set {name} would give the model's name to an input", where)
    return replace(spec, models={name: imported_model(found, name, where)})
