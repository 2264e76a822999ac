"""Graph memory through the C ABI: a C11 program (tests/c/memory.c) built against the installed header and
library runs SPEC's example through graphgpo_advantages_batch with a memory handle, saves, loads, reads
stats, and checks the errors; its numbers must equal Python's."""

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import graphgpo

SOURCE = Path(__file__).resolve().parent / "c" / "memory.c"
CC = shutil.which("cc") or shutil.which("gcc")


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    if CC is None:
        pytest.skip("no C compiler")
    out = tmp_path_factory.mktemp("c") / "memory"
    lib = Path(graphgpo.get_library())
    subprocess.run([CC, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", str(SOURCE),
                    f"-I{graphgpo.get_include()}", str(lib), f"-Wl,-rpath,{lib.parent}", "-o", str(out)],
                   check=True)
    return out


def numbers(output: str, label: str) -> np.ndarray:
    line = next(line for line in output.splitlines() if line.startswith(label + ":"))
    return np.array([float(x) for x in line.split(":", 1)[1].split()])


def test_memory_through_the_c_abi(program, tmp_path):
    run = subprocess.run([str(program), str(tmp_path)], capture_output=True, text=True, check=True)
    out = run.stdout
    call_1 = {"group": [0, 0, 0], "trajectory": [0, 0, 1], "state": ["A", "B", "A"], "next_state": ["B", "W", "C"],
              "success": [1, 1, 0]}
    call_2 = {"group": [0] * 5, "trajectory": [0, 0, 1, 1, 1], "state": ["A", "B", "A", "C", "C"],
              "next_state": ["B", "D", "C", "C", "E"], "success": [0] * 5}
    memory = graphgpo.GraphMemory(max_edges_per_task=100)
    expected_1 = graphgpo.advantages("graphgpo", omega=0.5, memory=memory, task=[7] * 3, **call_1)
    expected_2 = graphgpo.advantages("graphgpo", omega=0.5, memory=memory, task=[7] * 5, **call_2)
    np.testing.assert_allclose(numbers(out, "call 1"), expected_1, atol=1e-9)
    np.testing.assert_allclose(numbers(out, "call 2"), expected_2, atol=1e-9)
    np.testing.assert_allclose(numbers(out, "call 2"), [0.707107, 0, -0.707107, 0, 0], atol=1e-6)
    np.testing.assert_allclose(numbers(out, "call 2 after load"), expected_2, atol=1e-9)
    np.testing.assert_allclose(numbers(out, "old struct"), expected_1, atol=1e-9)
    assert "stats: 1 tasks, 6 edges, 2 calls, bytes > 0" in out
    # The file the C program saved after call 1 is Python's too.
    loaded = graphgpo.GraphMemory.load(tmp_path / "memory.ggm")
    assert loaded.max_edges_per_task == 100 and loaded.stats()["edges"] == 3 and loaded.stats()["calls"] == 1
    for pattern in (r"error gigpo with memory: 1 memory needs a graph-based method",
                    r"error expected distance: 1 memory needs distance='shortest'",
                    r"error task without memory: 1 task is only used with a graph memory",
                    r"error task not constant: 1 row 3: task differs",
                    r"untouched: 7 7",
                    r"error bad bound: 1 memory option 'max_age' must be null or an integer >= 0",
                    r"error unknown option: 1 unknown memory option 'max_size'",
                    r"error missing file: 6",
                    r"error foreign file: 1 graph memory file .*: not a graphgpo memory file",
                    r"after errors: 6 edges, 2 calls"):
        assert re.search(pattern, out), pattern
