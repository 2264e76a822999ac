"""The fuzz corpus (tests/fuzz/corpus) replayed against the installed C library: every input the fuzz driver
kept still runs without a broken ABI promise (see tests/fuzz/README.md). CI also replays it under ASan and
UBSan and fuzzes from it."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import graphgpo

FUZZ = Path(__file__).resolve().parent / "fuzz"
CXX = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    if CXX is None:
        pytest.skip("no C++ compiler")
    exe = tmp_path_factory.mktemp("fuzz") / "fuzz_c_abi"
    lib = Path(graphgpo.get_library())
    subprocess.run([CXX, "-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror", str(FUZZ / "fuzz_c_abi.cpp"),
                    f"-I{graphgpo.get_include()}", str(lib), f"-Wl,-rpath,{lib.parent}", "-o", str(exe)], check=True)
    return exe


def test_corpus_replays_without_a_violation(driver, tmp_path):
    inputs = [p for p in (FUZZ / "corpus").iterdir() if not p.name.startswith(".")]
    assert len(inputs) >= 100
    run = subprocess.run([str(driver), "replay", str(FUZZ / "corpus")], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"replayed {len(inputs)} inputs, no violation" in run.stdout


def test_short_fuzz_run_finds_nothing_and_missing_inputs_fail(driver, tmp_path):
    # A short run from a fixed seed finds nothing; a path that does not exist is an error, not a pass.
    run = subprocess.run([str(driver), "fuzz", "--seed", "3", "--runs", "300"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600)
    assert run.returncode == 0 and "no violation" in run.stdout, run.stderr[-3000:]
    missing = subprocess.run([str(driver), "replay", str(tmp_path / "missing")], capture_output=True, text=True)
    assert missing.returncode != 0
