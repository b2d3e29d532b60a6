"""Running ``facematch`` commands in-process and reading their ``name: value`` lines."""

from __future__ import annotations

import pytest

from facematch.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


def field(output: str, name: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in output.splitlines() if line.startswith(name + ":"))
