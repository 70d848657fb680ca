import numpy as np
from fdcheck import check_batching, check_derivatives

from gradcli.engine.ops import nodes as N


def test_sin_times_broadcast():
    rng = np.random.default_rng(0)
    check_derivatives(lambda a, b: N.mul(N.unary("sin", a), b),
                      rng.standard_normal((2, 3)), rng.standard_normal((3,)))
    check_batching(lambda a, b: N.mul(a, b), rng.standard_normal((2, 3)),
                   rng.standard_normal((3,)), batched=(False, True))
