"""The C ABI: a C11 program built against the installed header and library, and ctypes calls."""

import ctypes
import json
import re
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import graphgpo
from graphgpo.testing.spec_examples import EXAMPLE_1

EXAMPLE_C = Path(__file__).resolve().parents[1] / "examples" / "c"
CC = shutil.which("cc") or shutil.which("gcc")


def parse_advantages(output: str) -> np.ndarray:
    line = next(line for line in output.splitlines() if line.startswith("advantages:"))
    return np.array([float(x) for x in line.split(":", 1)[1].split()])


@pytest.fixture(scope="module")
def example_binary(tmp_path_factory):
    if CC is None:
        pytest.skip("no C compiler")
    out = tmp_path_factory.mktemp("c") / "example"
    lib = Path(graphgpo.get_library())
    subprocess.run([CC, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", str(EXAMPLE_C / "example.c"),
                    f"-I{graphgpo.get_include()}", str(lib), f"-Wl,-rpath,{lib.parent}", "-o", str(out)],
                   check=True)
    return out


@pytest.mark.parametrize("method", graphgpo.METHODS)
@pytest.mark.parametrize("options", [{"omega": 0.5}, {"omega": 0.3, "convention": "paper", "norm": "mean"}])
def test_c_program_matches_python(example_binary, method, options):
    run = subprocess.run([str(example_binary), method, json.dumps(options)], capture_output=True, text=True,
                         check=True)
    expected = graphgpo.advantages(method, **EXAMPLE_1, **options)
    np.testing.assert_allclose(parse_advantages(run.stdout), expected, atol=1e-9)
    assert f"graphgpo {graphgpo.__version__}" in run.stdout
    assert "group 0: 5 nodes, 9 edges, distances: 0 2 2 1 3" in run.stdout
    assert "bad input -> status 1: row 1: success is not constant" in run.stdout


def test_c_program_reports_bad_options(example_binary):
    run = subprocess.run([str(example_binary), "graphgpo", '{"norm": "zscore"}'], capture_output=True, text=True)
    assert run.returncode == 1
    assert "error 1: option 'norm' must be one of 'mean_std', 'mean', got 'zscore'" in run.stderr


def test_cmake_package_config(tmp_path):
    cmake = shutil.which("cmake")
    if cmake is None or CC is None:
        pytest.skip("needs cmake and a C compiler")
    build = tmp_path / "build"
    subprocess.run([cmake, "-S", str(EXAMPLE_C), "-B", str(build), f"-Dgraphgpo_DIR={graphgpo.get_cmake_dir()}"],
                   check=True, capture_output=True)
    subprocess.run([cmake, "--build", str(build)], check=True, capture_output=True)
    run = subprocess.run([str(build / "example")], capture_output=True, text=True, check=True)
    np.testing.assert_allclose(parse_advantages(run.stdout), graphgpo.advantages("graphgpo", omega=0.5, **EXAMPLE_1),
                               atol=1e-9)


def test_option_schema_is_the_python_one(lib):
    lib.graphgpo_option_schema.restype = ctypes.c_char_p
    assert json.loads(lib.graphgpo_option_schema()) == {"options": graphgpo.option_schema()}


class Fingerprint(ctypes.Structure):
    _fields_ = [("lo", ctypes.c_uint64), ("hi", ctypes.c_uint64)]


@pytest.fixture(scope="module")
def lib():
    lib = ctypes.CDLL(graphgpo.get_library())
    lib.graphgpo_version.restype = ctypes.c_char_p
    lib.graphgpo_build_info.restype = ctypes.c_char_p
    lib.graphgpo_last_error.restype = ctypes.c_char_p
    p = ctypes.c_void_p
    lib.graphgpo_advantages.argtypes = [ctypes.c_char_p, ctypes.c_size_t] + [p] * 9 + [ctypes.c_char_p, p]
    lib.graphgpo_advantages.restype = ctypes.c_int
    lib.graphgpo_fingerprint_int64.argtypes = [p, ctypes.c_size_t, p]
    lib.graphgpo_graphs_build.argtypes = [ctypes.c_size_t] + [p] * 7 + [ctypes.c_char_p, p]
    lib.graphgpo_graphs_csr.argtypes = [p, ctypes.c_size_t, p, p, p]
    lib.graphgpo_graphs_group_info.argtypes = [p, ctypes.c_size_t, p, p, p]
    lib.graphgpo_graphs_free.argtypes = [p]
    return lib


def ptr(a):
    return None if a is None else a.ctypes.data_as(ctypes.c_void_p)


def c_batch(batch):
    fp = graphgpo.fingerprint(batch["state"])
    nfp = graphgpo.fingerprint(batch["next_state"])
    return {
        "group": np.asarray(batch["group"], np.int64), "trajectory": np.asarray(batch["trajectory"], np.int64),
        "state": fp, "next_state": nfp, "success": np.asarray(batch["success"], np.uint8),
        "valid": np.asarray(batch["valid"], np.uint8),
    }


def call_advantages(lib, method, b, options, out, reward=None, cost=None):
    return lib.graphgpo_advantages(method, len(b["group"]), ptr(b["group"]), ptr(b["trajectory"]), ptr(b["state"]),
                                   ptr(b["next_state"]), ptr(b["success"]), ptr(b["valid"]), ptr(reward),
                                   ptr(cost), None, options, ptr(out))


def test_version_and_build_info(lib):
    assert lib.graphgpo_version().decode() == graphgpo.__version__
    info = json.loads(lib.graphgpo_build_info())
    assert info["version"] == graphgpo.__version__ and info["cuda"] is False and info["threads"] >= 1
    assert info == graphgpo.build_info()
    assert re.fullmatch(r"\d+\.\d+\.\d+", graphgpo.__version__)


def test_ctypes_advantages_match_python(lib):
    b = c_batch(EXAMPLE_1)
    out = np.zeros(9)
    assert call_advantages(lib, b"graphgpo", b, b'{"omega": 0.5}', out) == 0
    np.testing.assert_array_equal(out, graphgpo.advantages("graphgpo", omega=0.5, **EXAMPLE_1))


def test_ctypes_error_leaves_output_untouched(lib):
    b = c_batch(EXAMPLE_1)
    out = np.full(9, 7.0)
    reward = np.zeros(9)
    reward[4] = np.nan
    assert call_advantages(lib, b"graphgpo", b, None, out, reward=reward) == 1
    assert lib.graphgpo_last_error() == b"row 4: reward is not finite"
    assert (out == 7.0).all()
    assert call_advantages(lib, b"nope", b, None, out) == 1
    assert b"unknown method 'nope'" in lib.graphgpo_last_error()
    assert call_advantages(lib, b"grpo", b, b"{bad json", out) == 1
    assert b"options JSON" in lib.graphgpo_last_error()
    assert (out == 7.0).all()


def test_ctypes_null_pointers_are_errors_not_crashes(lib):
    out = np.zeros(3)
    status = lib.graphgpo_advantages(b"grpo", 3, None, None, None, None, None, None, None, None, None, None, ptr(out))
    assert status == 1 and b"must not be NULL" in lib.graphgpo_last_error()
    assert lib.graphgpo_advantages(None, 0, *([None] * 9), None, None) == 1
    # An empty batch needs no arrays at all.
    assert lib.graphgpo_advantages(b"graphgpo", 0, *([None] * 9), None, None) == 0


def test_last_error_is_thread_local(lib):
    b = c_batch(EXAMPLE_1)
    out = np.zeros(9)
    assert call_advantages(lib, b"nope", b, None, out) == 1
    seen = []
    thread = threading.Thread(target=lambda: seen.append(lib.graphgpo_last_error()))
    thread.start()
    thread.join()
    assert seen == [b""]
    assert b"nope" in lib.graphgpo_last_error()


def test_ctypes_graph_handle(lib):
    b = c_batch(EXAMPLE_1)
    handle = ctypes.c_void_p()
    assert lib.graphgpo_graphs_build(9, ptr(b["group"]), ptr(b["trajectory"]), ptr(b["state"]),
                                     ptr(b["next_state"]), ptr(b["success"]), None, None, None,
                                     ctypes.byref(handle)) == 0
    gid, nodes, edges = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
    assert lib.graphgpo_graphs_group_info(handle, 0, ctypes.byref(gid), ctypes.byref(nodes), ctypes.byref(edges)) == 0
    assert (gid.value, nodes.value, edges.value) == (0, 5, 9)
    offsets, targets, rows = np.zeros(6, np.int64), np.zeros(9, np.int64), np.zeros(9, np.int64)
    assert lib.graphgpo_graphs_csr(handle, 0, ptr(offsets), ptr(targets), ptr(rows)) == 0
    py = graphgpo.build_graphs(**EXAMPLE_1).csr(0)
    np.testing.assert_array_equal(offsets, py.offsets)
    np.testing.assert_array_equal(targets, py.nodes)
    np.testing.assert_array_equal(rows, py.rows)
    assert lib.graphgpo_graphs_csr(handle, 3, None, None, None) == 1
    assert b"out of range" in lib.graphgpo_last_error()
    lib.graphgpo_graphs_free(handle)
    lib.graphgpo_graphs_free(None)
