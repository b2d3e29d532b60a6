"""The README's commands, pasted as they are, give the answers it shows.

A newcomer's machine is rebuilt in a temporary folder (the project's ``.venv`` and ``bench/``,
``../shared`` beside it, a fresh ``var/``), ``facematch serve --dev`` and the demo partner run there
as ``make run`` runs them, and every command block of the engine section and the partner API
walk-through runs in one shell, in order. Each answer must equal the one printed below its command,
up to what changes from run to run (ids, times, tokens, the ports this test picked).

``FACEMATCH_UPDATE_README=1 .venv/bin/pytest tests/test_readme_walkthrough.py`` writes the answers
of this run into the README (review the diff: scores must only move when the engine did).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from servicekit import free_port, wait_for

pytestmark = pytest.mark.model  # the real engine, as `make run` has it

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHARED = ROOT.parent / "shared"
UPDATE = bool(os.environ.get("FACEMATCH_UPDATE_README"))
README_PORTS = (8000, 8001)

_PROGRESS = re.compile(r"^\s*\w+: +\d+%\|")
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")
_SHORT_JWT = "eyJhbGciOiJI…"
_VOLATILE = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "<time>"),
    (re.compile(r'"\d{10}"'), '"<epoch>"'),
    (re.compile(r"order-\d+"), "order-<n>"),
    (re.compile(r"reference-image/[\w-]+"), "reference-image/<id>"),
    (re.compile(r"pass-key: +\S+"), "pass-key: <secret>"),
    (re.compile(r"whsec_\S+"), "whsec_<secret>"),
    (re.compile(r"speed [\d.]+ images/s with \d+ worker\(s\)"), "speed <n> images/s"),
]


@dataclass
class Block:
    lang: str
    start: int  # offset of the block's content in the README
    end: int
    text: str


def blocks_between(text: str, first: str, last: str) -> list[Block]:
    begin, stop = text.index(first), text.index(last)
    return [
        Block(m.group(1), m.start(2), m.end(2), m.group(2))
        for m in _FENCE.finditer(text)
        if begin <= m.start() < stop
    ]


def shown(output: str, ports: tuple[int, int]) -> str:
    """An answer as the README prints it: tokens shortened, the README's own ports."""
    for real, documented in zip(ports, README_PORTS, strict=True):
        output = output.replace(f"127.0.0.1:{real}", f"127.0.0.1:{documented}")
    return _JWT.sub(_SHORT_JWT, output)


def comparable(output: str) -> str:
    for pattern, placeholder in _VOLATILE:
        output = pattern.sub(placeholder, output)
    return output.rstrip("\n")


@dataclass
class Machine:
    work: Path
    ports: tuple[int, int]
    banner: Path

    def environment(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("FACEMATCH_")}

    def command(self, text: str) -> str:
        """A README command for this machine: the ports this test picked."""
        for real, documented in zip(self.ports, README_PORTS, strict=True):
            text = text.replace(f"127.0.0.1:{documented}", f"127.0.0.1:{real}")
        return text

    def shell(self, script: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", "set -eu -o pipefail\n" + script],
            cwd=self.work,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machine]:
    """A fresh checkout's folder beside ``../shared``, with `make run` running in it."""
    base = tmp_path_factory.mktemp("newcomer")
    work = base / "facematch"
    work.mkdir()
    (base / "shared").symlink_to(SHARED)
    for name in (".venv", "bench"):
        (work / name).symlink_to(ROOT / name)
    found = Machine(work, (free_port(), free_port()), work / "serve.out")
    env = found.environment()
    binary = str(work / ".venv" / "bin" / "facematch")
    api_port, demo_port = found.ports
    with found.banner.open("w") as out:
        serve = subprocess.Popen(
            [binary, "serve", "--dev", "--port", str(api_port)],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
    wait_for(lambda: _answers(f"http://127.0.0.1:{api_port}/readyz"), timeout=180)
    demo = subprocess.Popen(
        [binary, "demo-partner", "--port", str(demo_port), "--facematch-url", f"http://127.0.0.1:{api_port}"],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: _answers(f"http://127.0.0.1:{demo_port}/healthz"), timeout=120)
    try:
        yield found
    finally:
        for process in (demo, serve):
            process.send_signal(signal.SIGTERM)
            process.wait(60)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=10).status_code == 200
    except httpx.TransportError:
        return False


def _rewrite(text: str, replacements: list[tuple[Block, str]]) -> str:
    for block, content in sorted(replacements, key=lambda r: r[0].start, reverse=True):
        text = text[: block.start] + content + text[block.end :]
    return text


def test_the_engine_commands_print_what_the_readme_shows(machine: Machine) -> None:
    text = README.read_text()
    blocks = [
        b
        for b in blocks_between(text, "## The engine and its command line", "## Partner API walk-through")
        if b.lang == "console"
    ]
    assert blocks, "no console blocks in the engine section"
    replacements, mismatches = [], []
    for block in blocks:
        steps = re.split(r"^\$ ", block.text, flags=re.MULTILINE)[1:]
        rebuilt = ""
        for step in steps:
            command, _, expected = step.partition("\n")
            ran = machine.shell(command, timeout=900)
            # what a terminal keeps: the progress bar redraws itself and is gone at the end
            errors = "".join(line for line in ran.stderr.splitlines(True) if not _PROGRESS.match(line))
            output = shown(ran.stdout + errors, machine.ports)
            rebuilt += f"$ {command}\n{output.rstrip(chr(10))}\n" if output.strip() else f"$ {command}\n"
            if comparable(output) != comparable(expected):
                mismatches.append(f"$ {command}\n--- README\n{expected}--- real\n{output}")
        replacements.append((block, rebuilt))
    if UPDATE:
        README.write_text(_rewrite(text, replacements))
    assert not mismatches, "\n\n".join(mismatches)


def test_the_walkthrough_pasted_as_is_gives_the_answers_shown(machine: Machine) -> None:
    text = README.read_text()
    blocks = blocks_between(text, "## Partner API walk-through", "### Decisions where the contract is silent")
    banner = next(b for b in blocks if b.lang == "text")
    printed = machine.banner.read_text()
    assert comparable(banner.text) in comparable(printed), printed  # what `make run` prints first

    commands: list[Block] = []
    answers: dict[int, Block] = {}  # command index -> the answer block below it
    for block in blocks:
        if block.lang == "sh":
            commands.append(block)
        elif block.lang == "json":
            assert commands and len(commands) - 1 not in answers, "an answer without its command"
            answers[len(commands) - 1] = block
    script = "".join(f"echo '@@{i}@@'\n{machine.command(b.text)}" for i, b in enumerate(commands))
    ran = machine.shell(script)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    outputs = re.split(r"^@@\d+@@\n", ran.stdout, flags=re.MULTILINE)[1:]
    assert len(outputs) == len(commands)
    replacements, mismatches = [], []
    for index, output in enumerate(outputs):
        printed_answer = shown(output, machine.ports)
        expected = answers.get(index)
        if expected is None:
            assert not output.strip(), f"command {index} printed an answer the README does not show"
            continue
        replacements.append((expected, printed_answer))
        if comparable(printed_answer) != comparable(expected.text):
            mismatches.append(f"{commands[index].text}--- README\n{expected.text}--- real\n{printed_answer}")
    if UPDATE:
        README.write_text(_rewrite(text, replacements))
    assert not mismatches, "\n\n".join(mismatches)


def test_the_demo_partner_can_be_moved_as_the_readme_says(machine: Machine) -> None:
    text = README.read_text()
    [block] = [
        b
        for b in blocks_between(
            text, "**Try it with the demo partner.**", "| Landing with the privacy notice"
        )
        if b.lang == "sh"
    ]
    moved_api, moved_demo = free_port(), free_port()
    commands = block.text.replace("8101", str(moved_demo)).replace("8100", str(moved_api)).splitlines()
    setup, serve_demo = commands[:-1], commands[-1]
    assert serve_demo.startswith(".venv/bin/facematch demo-partner")
    configured = machine.shell("\n".join(setup))
    assert configured.returncode == 0, configured.stderr
    demo = subprocess.Popen(
        ["bash", "-c", "exec " + serve_demo],
        cwd=machine.work,
        env=machine.environment(),
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{moved_demo}/healthz"), timeout=120)
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(60)
