"""The README's ```console blocks: `$ gradcli ...` lines and the output
they print.  The test runs each command and compares; run this file with
`--write` to refresh the outputs after a deliberate change:

    python tests/readme_blocks.py --write README.md
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"```console\n(.*?)```", re.S)


@dataclass(frozen=True)
class Example:
    command: str
    shown: str


def examples(text: str) -> list[Example]:
    found = []
    for block in BLOCK.findall(text):
        lines = block.splitlines()
        assert lines and lines[0].startswith("$ gradcli "), block
        found.append(Example(lines[0][2:], "\n".join(lines[1:]).rstrip()))
    return found


def run(command: str) -> str:
    argv = shlex.split(command)
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    done = subprocess.run([sys.executable, "-m", "gradcli", *argv[1:]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (command, done.stderr)
    return "\n".join(line.rstrip() for line in done.stdout.rstrip().splitlines())


def refreshed(text: str) -> str:
    def fill(match: re.Match[str]) -> str:
        command = match.group(1).splitlines()[0]
        return f"```console\n{command}\n{run(command[2:])}\n```"

    return BLOCK.sub(fill, text)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        path = Path(sys.argv[2])
        path.write_text(refreshed(path.read_text()))
    else:
        sys.exit(__doc__)
