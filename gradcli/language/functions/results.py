"""Several arrays returned by one catalogue function, as numpy's named tuples
(EighResult, SVDResult, QRResult, SlogdetResult).

A `Results` is not an array: the expression compiler lets an expression take
one of its arrays, by position (`eigh(a)[1]`) or by numpy's field name
(`eigh(a).eigenvectors`), and every other use is a spec error that says
how.  Each array is an ordinary graph node (one primitive per output of the
decomposition), so taking one builds nothing more and two `let`s that take
different outputs of the same call share everything the evaluator can merge.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradcli.engine.graph import Node
from gradcli.errors import SpecError, suggest


@dataclass(frozen=True)
class Results:
    function: str               # "eigh"
    names: tuple[str, ...]      # numpy's field names: ("eigenvalues", "eigenvectors")
    values: tuple[Node, ...]

    def pick(self, index: object) -> Node:
        """results[index]: one int (negative counts from the end), as a tuple."""
        count = len(self.values)
        if isinstance(index, tuple) and len(index) == 1:
            index = index[0]
        if isinstance(index, bool) or not isinstance(index, int):
            raise SpecError(f"{self.function}(...) returns {count} arrays ({self._listing()}): "
                            f"index it with one integer from 0 to {count - 1}")
        if not -count <= index < count:
            raise SpecError(f"{self.function}(...) returns {count} arrays ({self._listing()}): "
                            f"index {index} is out of range")
        return self.values[index]

    def field(self, name: str) -> Node:
        """results.name with numpy's field names."""
        if name not in self.names:
            raise SpecError(f"{self.function}(...) has no field '{name}'; its fields are "
                            f"{self._listing()}{suggest(name, self.names)}")
        return self.values[self.names.index(name)]

    def usage(self) -> str:
        """Why a Results cannot stand where an array is expected, and what to write."""
        return (f"{self.function}(...) returns {len(self.values)} arrays ({self._listing()}), "
                f"not one: take one, e.g. {self.function}(...)[0] or "
                f"{self.function}(...).{self.names[0]}")

    def _listing(self) -> str:
        return ", ".join(self.names)
