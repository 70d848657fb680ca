"""The accuracy harness (DESIGN §7, docs/accuracy.md): every op's values,
first and second derivatives against 50-digit mpmath references over the
whole range of the dtype.  mpmath comes with sympy."""
