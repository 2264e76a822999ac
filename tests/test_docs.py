"""Every code block of the README and the user guide runs as written.

Blocks run in order, one temporary directory per document, each in a fresh process:
- ``python`` blocks with this environment's Python; ``bash``/``sh`` blocks with bash (``python`` on PATH is
  this environment's), so build lines such as the README's C command are run for real;
- a block preceded by ``<!-- save-as: NAME -->`` is written to NAME instead (e.g. the C program the build
  line compiles);
- an ``output`` block right after a block is what that block must print (stdout, exactly);
- a block preceded by ``<!-- not-run: REASON -->`` is skipped. Keep that list tiny: only blocks that install
  packages or run for minutes qualify, and the test counts them.
Any other language is an error, so a new block is either runnable or explicitly marked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ("README.md", "docs/guide.md")
MAX_NOT_RUN = 3  # across all documents

RUN = {"python": [sys.executable], "bash": ["bash", "-euo", "pipefail"], "sh": ["bash", "-euo", "pipefail"]}
DATA = {"output", "text", "json"}  # shown, never run (an `output` block is checked against its block's stdout)
FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
MARK = re.compile(r"^<!--\s*(not-run|save-as):\s*(.+?)\s*-->$")


@dataclass
class Block:
    document: str
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    mark: tuple[str, str] | None = None
    expected_output: str | None = None

    @property
    def where(self) -> str:
        return f"{self.document}:{self.line} ({self.language})"


def parse(document: str) -> list[Block]:
    """The fenced blocks of a Markdown file, with their marks and expected outputs."""
    lines = (ROOT / document).read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        previous = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        mark = MARK.match(previous)
        block = Block(document, i + 1, fence.group(1).lower(), "\n".join(lines[i + 1:end]) + "\n",
                      (mark.group(1), mark.group(2)) if mark else None)
        if block.language == "output" and blocks and not mark:
            blocks[-1].expected_output = block.code
        blocks.append(block)
        i = end + 1
    return blocks


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", MPLBACKEND="Agg",
               HF_HUB_DISABLE_TELEMETRY="1", TRL_EXPERIMENTAL_SILENCE="1", PYTHONUNBUFFERED="1")
    return env


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_block_runs_as_written(document, tmp_path):
    blocks = parse(document)
    assert blocks, f"{document} has no code blocks"
    env = environment()
    for index, block in enumerate(blocks):
        if block.mark and block.mark[0] == "not-run":
            continue
        if block.mark and block.mark[0] == "save-as":
            (tmp_path / block.mark[1]).write_text(block.code, encoding="utf-8")
            continue
        if block.language in DATA:
            continue
        if block.language not in RUN:
            pytest.fail(f"{block.where}: a {block.language or 'plain'} block must be runnable (python, bash), "
                        "data (output, text, json), or marked <!-- save-as: NAME --> / <!-- not-run: why -->")
        script = tmp_path / f"block_{index}.{'py' if block.language == 'python' else 'sh'}"
        script.write_text(block.code, encoding="utf-8")
        done = subprocess.run([*RUN[block.language], str(script)], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, f"{block.where} failed:\n{done.stdout}\n{done.stderr}"
        if block.expected_output is not None:
            got = [line.rstrip() for line in done.stdout.rstrip("\n").splitlines()]
            want = [line.rstrip() for line in block.expected_output.rstrip("\n").splitlines()]
            assert got == want, f"{block.where} printed other output than the block after it shows"


def test_not_run_blocks_are_few_and_say_why():
    skipped = [b for d in DOCUMENTS for b in parse(d) if b.mark and b.mark[0] == "not-run"]
    assert len(skipped) <= MAX_NOT_RUN, [b.where for b in skipped]
    for block in skipped:
        assert len(block.mark[1]) >= 10, f"{block.where}: say why it cannot run"


def test_parser_reads_marks_and_outputs(tmp_path, monkeypatch):
    """The extractor itself: marks apply to the next block, output blocks to the previous one."""
    doc = tmp_path / "doc.md"
    doc.write_text("text\n\n<!-- not-run: installs things -->\n```bash\npip install x\n```\n\n"
                   "<!-- save-as: prog.c -->\n```c\nint main(void) { return 0; }\n```\n\n"
                   "```python\nprint(1)\n```\n```output\n1\n```\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    blocks = parse("doc.md")
    assert [(b.language, b.mark) for b in blocks] == [
        ("bash", ("not-run", "installs things")), ("c", ("save-as", "prog.c")), ("python", None), ("output", None)]
    assert blocks[2].expected_output == "1\n" and blocks[2].line == 13


def test_c_and_python_examples_print_the_same_advantages():
    """The README's C program computes the Python example's rows (next_state and valid included), so both
    print the same numbers; test_every_block_runs_as_written checks that each prints what it shows."""
    blocks = parse("README.md")
    python = next(b for b in blocks if b.language == "python" and 'advantages("graphgpo", **rows' in b.code)
    build = next(b for b in blocks if b.language == "bash" and "./prog" in b.code)
    program = next(b for b in blocks if b.mark == ("save-as", "prog.c"))
    assert "next_state, success, valid" in program.code
    assert python.expected_output.splitlines()[0] == build.expected_output.splitlines()[0]
