"""Keras's weight initializers, as numpy formulas.

The formulas (limits, standard deviations, fans, the truncation of the
normal ones) are Keras's, so a network initialised here has the statistics
of the same network built in Keras.  The random *stream* is numpy's, not
TensorFlow's: TF's generator cannot be reproduced outside TF, so the
numbers differ from Keras's for the same seed.  Each parameter draws from
its own generator, `numpy.random.default_rng([seed, layer_index, part])`
(part 0 = kernel, 1 = bias, else the CRC-32 of the part's name), so a
parameter's value depends only on the seed, its position and its shape,
never on which other layers exist or in which order models are called.

Fans (keras.initializers compute_fans): a kernel (in, out) has fan_in = in
and fan_out = out; a convolution kernel (*window, in, out) multiplies both
by the window's size; a 1-D bias (n,) has fan_in = fan_out = n.

| name           | distribution                                         |
|----------------|------------------------------------------------------|
| glorot_uniform | U(-l, l), l = sqrt(6 / (fan_in + fan_out))           |
| glorot_normal  | truncated normal, sd = sqrt(2 / (fan_in + fan_out)) / 0.8796 |
| he_uniform     | U(-l, l), l = sqrt(6 / fan_in)                       |
| he_normal      | truncated normal, sd = sqrt(2 / fan_in) / 0.8796     |
| lecun_uniform  | U(-l, l), l = sqrt(3 / fan_in)                       |
| lecun_normal   | truncated normal, sd = sqrt(1 / fan_in) / 0.8796     |
| normal         | N(mean=0, stddev=0.05), not truncated                |
| uniform        | U(minval=-0.05, maxval=0.05)                         |
| truncated_normal | N(0, 0.05) truncated, not rescaled                 |
| zeros / ones / {constant: v} | every element 0, 1 or v                |

"Truncated normal" is TensorFlow's: values farther than two standard
deviations from the mean are drawn again.  Truncation shrinks the standard
deviation by 0.87962566103423978 (the sd of a standard normal restricted to
[-2, 2]); the variance-scaling initializers divide by it first, so their
weights end up with exactly the variance scale / fan.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

TRUNCATION_SD = 0.87962566103423978
# name -> (scale, mode, distribution) of keras.initializers.VarianceScaling
VARIANCE_SCALING: Mapping[str, tuple[float, str, str]] = MappingProxyType({
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal"),
})
# name -> its parameters and their Keras defaults
PLAIN: Mapping[str, Mapping[str, float]] = MappingProxyType({
    "normal": MappingProxyType({"mean": 0.0, "stddev": 0.05}),
    "uniform": MappingProxyType({"minval": -0.05, "maxval": 0.05}),
    "truncated_normal": MappingProxyType({"mean": 0.0, "stddev": 0.05}),
    "zeros": MappingProxyType({}),
    "ones": MappingProxyType({}),
    "constant": MappingProxyType({"value": 0.0}),
})
NAMES = (*VARIANCE_SCALING, *PLAIN)
PARTS = {"kernel": 0, "bias": 1}


@dataclass(frozen=True)
class Initializer:
    """One initializer with its parameters filled in (defaults included)."""

    name: str
    params: Mapping[str, float] = field(default_factory=dict)


def make(name: str, params: Mapping[str, Any] | None = None) -> Initializer:
    """An Initializer; raises ValueError with a readable reason when invalid."""
    if name not in NAMES:
        raise ValueError(f"unknown initializer '{name}'")
    allowed = PLAIN.get(name, {})
    given = dict(params or {})
    extra = sorted(set(given) - set(allowed))
    if extra:
        accepted = ", ".join(allowed) or "no parameters"
        raise ValueError(f"initializer '{name}' has no parameter '{extra[0]}' "
                         f"(it takes {accepted})")
    values = dict(allowed)
    for key, value in given.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise ValueError(f"'{key}' of initializer '{name}' must be a finite number")
        values[key] = float(value)
    if name in ("normal", "truncated_normal") and values["stddev"] < 0:
        raise ValueError(f"'stddev' of initializer '{name}' must not be negative")
    if name == "uniform" and values["maxval"] < values["minval"]:
        raise ValueError("'maxval' of initializer 'uniform' must not be below 'minval'")
    return Initializer(name, MappingProxyType(values))


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """keras compute_fans for the shapes a dense layer has."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2], dtype=np.int64)) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def generator(seed: int, index: int, part: str) -> np.random.Generator:
    """The generator of one parameter (see the module docstring); a part
    other than kernel and bias (embeddings, ...) is numbered by the CRC-32
    of its name, so a new layer kind needs no entry here."""
    return np.random.default_rng([seed, index, PARTS.get(part, zlib.crc32(part.encode()))])


def truncated_normal(rng: np.random.Generator, mean: float, sd: float,
                     shape: tuple[int, ...]) -> np.ndarray:
    """N(mean, sd) with values beyond 2 sd drawn again, as tf.random.truncated_normal."""
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2.0
    while outside.any():  # each round keeps 95.4 % of what it draws
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2.0
    return mean + sd * values


def sample(init: Initializer, shape: tuple[int, ...], rng: np.random.Generator,
           dtype: str) -> np.ndarray:
    """Values of one parameter of `shape` (computed in float64, then cast)."""
    shape = tuple(int(d) for d in shape)
    if init.name in VARIANCE_SCALING:
        scale, mode, distribution = VARIANCE_SCALING[init.name]
        fan_in, fan_out = fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        n = max(1.0, float(n))
        if distribution == "uniform":
            limit = math.sqrt(3.0 * scale / n)
            values = rng.uniform(-limit, limit, size=shape)
        else:
            values = truncated_normal(rng, 0.0, math.sqrt(scale / n) / TRUNCATION_SD, shape)
    elif init.name == "normal":
        values = rng.normal(init.params["mean"], init.params["stddev"], size=shape)
    elif init.name == "truncated_normal":
        values = truncated_normal(rng, init.params["mean"], init.params["stddev"], shape)
    elif init.name == "uniform":
        values = rng.uniform(init.params["minval"], init.params["maxval"], size=shape)
    else:
        fill = {"zeros": 0.0, "ones": 1.0}.get(init.name, init.params.get("value", 0.0))
        values = np.full(shape, fill)
    return np.asarray(values, dtype=dtype)
