"""The CUDA path (docs/cuda.md).

Three layers of tests:

- Always: without CUDA compiled in, every entry point raises a clear error.
- Always (needs a C++ compiler, no GPU): the device pipeline (cpp/src/cuda/pipeline.cuh, the code the CUDA
  kernels run) compiled for the host by tests/cuda/emulate_main.cpp, against the CPU engine: advantages
  and distances bit-identical, the same validation messages, the same fingerprints. The Python layer
  (graphgpo.cuda) runs end to end on CPU tensors with the emulation standing in for graphgpo._core._cuda.
- On a GPU (a GRAPHGPO_CUDA=ON build, torch with CUDA, a device): the real kernels against the CPU engine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphgpo
import graphgpo.cuda as gcuda
from graphgpo import _core
from graphgpo._api import prepare_batch
from graphgpo.testing.spec_examples import EXAMPLE_1, EXAMPLE_2, EXPECTED_1, EXPECTED_2
from graphgpo.testing.strategies import batches, options

ROOT = Path(__file__).resolve().parents[1]
CUDA_DIR = ROOT / "cpp" / "src" / "cuda"
EMULATOR_SOURCE = ROOT / "tests" / "cuda" / "emulate_main.cpp"
# The engine sources the emulated pipeline links with (option parsing, the option table, the estimator registry).
EMULATOR_ENGINE_SOURCES = ("options.cpp", "option_table.cpp", "estimator_registry.cpp", "json_reader.cpp")

try:
    import torch
except ImportError:  # pragma: no cover - torch is a test dependency
    torch = None

ON_GPU = graphgpo.cuda_available() and torch is not None and torch.cuda.is_available()
needs_gpu = pytest.mark.skipif(not ON_GPU, reason="needs a GRAPHGPO_CUDA=ON build, PyTorch with CUDA and a GPU")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
FIELDS = ("group", "trajectory", "state", "next_state", "success", "valid", "reward", "cost", "action")


def host_fp(states) -> np.ndarray:
    """graphgpo.fingerprint(states) as an (n, 2) uint64 array."""
    return np.ascontiguousarray(graphgpo.fingerprint(states)).view(np.uint64).reshape(-1, 2)


def cpu_next_distances(batch, distance="shortest"):
    """Each row's d(next node) from the CPU engine's graphs."""
    graphs = graphgpo.build_graphs(group=batch["group"], trajectory=batch["trajectory"], state=batch["state"],
                                   success=batch["success"], next_state=batch.get("next_state"),
                                   cost=batch.get("cost"), action=batch.get("action"), distance=distance)
    out = np.full(len(batch["group"]), np.nan)
    for g in graphs.group_ids:
        dist = graphs.distances(g)
        _, dst, rows = graphs.edges(g)
        out[rows] = dist[dst]
    return out


def cpu_error(method, batch, **opts):
    try:
        graphgpo.advantages(method, **batch, **opts)
    except ValueError as e:
        return str(e)
    return None


BAD_BATCHES = [
    {"reward": [0, 0, 0, 0, np.nan, 1.0]},
    {"cost": [1, 1, np.inf, 1, 1, 1]},
    {"cost": [1, 1, 1, -2, 1, 1]},
    {"cost": [1, 0, 1, -2, 1, 1], "reward": [0, 0, 0, np.inf, 0, 0]},
    {"trajectory": [0, 0, 1, 0, 2, 3]},
    {"group": [0, 0, 0, 1, 2, 1]},
    {"success": [1, 1, 0, 0, 1, 1]},
    {"trajectory": [0, 0, 1, 1, 2, 0], "group": [0, 0, 0, 0, 1, 1], "reward": [0, 0, 0, 0, 0, np.nan]},
]
# The methods the CUDA path implements (the registry's supports_cuda); the others are refused (docs/cuda.md).
CUDA_METHODS = gcuda.CUDA_METHODS
GOOD_BATCH = {"group": [0, 0, 0, 1, 1, 1], "trajectory": [0, 0, 1, 2, 2, 3], "state": [1, 2, 3, 4, 5, 6],
              "success": [1, 1, 0, 0, 0, 1]}


# ---------------------------------------------------------------------------------------------------------
# Without CUDA compiled in


def test_progpo_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="progpo is not implemented on the CUDA path"):
        gcuda.advantages("progpo", **GOOD_BATCH)


@pytest.mark.skipif(graphgpo.cuda_available(), reason="this build has the CUDA kernels")
def test_without_cuda_every_entry_point_raises_a_clear_error():
    assert gcuda.is_available() is False
    assert _core._cuda.compiled() is False and _core._cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="GRAPHGPO_CUDA=ON"):
        gcuda.advantages("graphgpo", **GOOD_BATCH)
    with pytest.raises(RuntimeError, match="GRAPHGPO_CUDA=ON"):
        gcuda.next_state_distances(**GOOD_BATCH)
    with pytest.raises(RuntimeError, match="GRAPHGPO_CUDA=ON"):
        gcuda.fingerprint([1, 2, 3])
    with pytest.raises(ValueError, match="unknown method"):
        gcuda.advantages("ppo", **GOOD_BATCH)
    with pytest.raises(RuntimeError, match="no CUDA kernels"):
        _core._cuda.workspace_size("grpo", 6, "")
    with pytest.raises(RuntimeError, match="no CUDA kernels"):
        _core._cuda.advantages("grpo", *([None] * 9), "", None, None, 0)
    with pytest.raises(RuntimeError, match="no CUDA kernels"):
        _core._cuda.fingerprint_int64(None, None, 0)


@pytest.mark.skipif(not graphgpo.cuda_available() or torch is None or torch.cuda.is_available(),
                    reason="for a CUDA build on a machine without a GPU")
def test_cuda_build_without_a_device_raises_a_clear_error():
    assert gcuda.is_available() is False
    with pytest.raises(RuntimeError, match="no CUDA device"):
        gcuda.advantages("graphgpo", **GOOD_BATCH)
    with pytest.raises(RuntimeError, match="no CUDA device"):
        _core._cuda.workspace_size("graphgpo", 6, "")


# ---------------------------------------------------------------------------------------------------------
# The device pipeline, emulated on the host


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if cxx is None:
        pytest.skip("no C++ compiler for the host emulation of the CUDA pipeline")
    exe = tmp_path_factory.mktemp("cuda-emulation") / "emulate"
    command = [cxx, "-std=c++17", "-O1", "-pthread", "-I", str(ROOT / "cpp" / "include"), "-I", str(CUDA_DIR),
               str(EMULATOR_SOURCE), *(str(ROOT / "cpp" / "src" / f) for f in EMULATOR_ENGINE_SOURCES), "-o", str(exe)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return Emulator(exe)


class Emulator:
    """Runs tests/cuda/emulate_main.cpp on engine-ready arrays."""

    def __init__(self, exe: Path):
        self.exe = exe

    def _run(self, mode: str, directory: str):
        result = subprocess.run([str(self.exe), mode, directory], capture_output=True, text=True)
        if result.returncode == 3:
            raise ValueError(result.stderr.strip())
        assert result.returncode == 0, result.stderr

    def arrays(self, method: str, arrays: dict, options_json: str):
        """Advantages (and for graphgpo each row's d(next)) from engine-typed arrays."""
        n = len(arrays["group"])
        with tempfile.TemporaryDirectory() as d:
            Path(d, "meta.txt").write_text(f"{method}\n{n}\n{options_json}\n")
            for name in FIELDS:
                if arrays.get(name) is not None:
                    np.ascontiguousarray(arrays[name]).tofile(Path(d, f"{name}.bin"))
            self._run("advantages", d)
            out = np.fromfile(Path(d, "out.bin"), dtype=np.float64)
            dnext = Path(d, "dnext.bin")
            return out, (np.fromfile(dnext, dtype=np.float64) if dnext.exists() else None)

    def advantages(self, method: str, batch: dict, **opts):
        b = prepare_batch(**batch)
        return self.arrays(method, {k: getattr(b, k) for k in FIELDS}, json.dumps(opts))

    def rows(self, data: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        data = np.ascontiguousarray(data)
        with tempfile.TemporaryDirectory() as d:
            row_bytes = data.shape[1] * data.itemsize
            Path(d, "meta.txt").write_text(f"{data.shape[0]}\n{row_bytes}\n{data.itemsize}\n")
            data.tofile(Path(d, "data.bin"))
            if lengths is not None:
                np.ascontiguousarray(lengths, dtype=np.int64).tofile(Path(d, "lengths.bin"))
            self._run("rows", d)
            return np.fromfile(Path(d, "fp.bin"), dtype=np.uint64).reshape(-1, 2)

    def int64(self, values: np.ndarray) -> np.ndarray:
        with tempfile.TemporaryDirectory() as d:
            Path(d, "meta.txt").write_text(f"{len(values)}\n")
            np.ascontiguousarray(values, dtype=np.int64).tofile(Path(d, "values.bin"))
            self._run("int64", d)
            return np.fromfile(Path(d, "fp.bin"), dtype=np.uint64).reshape(-1, 2)


def test_emulated_pipeline_reproduces_the_spec_examples(emulator):
    for (method, opts), expected in EXPECTED_1.items():
        got, _ = emulator.advantages(method, EXAMPLE_1, omega=0.5, **dict(opts))
        np.testing.assert_allclose(got, expected, atol=2e-6)
        assert got.tobytes() == graphgpo.advantages(method, **EXAMPLE_1, omega=0.5, **dict(opts)).tobytes()
    for distance, expected in EXPECTED_2.items():
        got, dnext = emulator.advantages("graphgpo", EXAMPLE_2, omega=0.5, distance=distance)
        np.testing.assert_allclose(got, expected, atol=2e-6)
        assert dnext.tobytes() == cpu_next_distances(EXAMPLE_2, distance).tobytes()


@SETTINGS
@given(data=st.data())
def test_emulated_pipeline_is_bit_identical_to_the_cpu_engine(emulator, data):
    method = data.draw(st.sampled_from(CUDA_METHODS))
    expected = method == "graphgpo" and data.draw(st.booleans())
    batch = data.draw(batches(with_action=True if expected else None))
    opts = data.draw(options(method))
    if expected:
        opts["distance"] = "expected"
    got, dnext = emulator.advantages(method, batch, **opts)
    assert got.tobytes() == graphgpo.advantages(method, **batch, **opts).tobytes()
    if method == "graphgpo":
        assert dnext.tobytes() == cpu_next_distances(batch, opts.get("distance", "shortest")).tobytes()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_emulated_pipeline_reads_zero_next_state_as_absent(emulator, data):
    """None in next_state becomes the reserved fingerprint {0, 0}; the device pipeline reads it as "no next
    state" for that row, exactly as the CPU engine does."""
    method = data.draw(st.sampled_from(CUDA_METHODS))
    batch = data.draw(batches(with_next_state=True, next_state_gaps=True))
    got, dnext = emulator.advantages(method, batch)
    assert got.tobytes() == graphgpo.advantages(method, **batch).tobytes()
    if method == "graphgpo":
        assert dnext.tobytes() == cpu_next_distances(batch).tobytes()


def test_emulated_pipeline_on_rollout_sized_batches(emulator):
    sys.path.insert(0, str(ROOT))
    data = pytest.importorskip("benchmarks.data")
    b = data.generate(data.sweep_shape(20_000))
    rng = np.random.default_rng(0)
    ids = np.asarray(b.distinct, dtype=np.int64)
    base = {"group": b.group, "trajectory": b.trajectory, "state": b.states(), "success": b.success,
            "valid": b.valid}
    variants = [{}, {"next_state": np.where(b.next_state_ids >= 0, ids[np.maximum(b.next_state_ids, 0)], 7)},
                {"cost": rng.uniform(0.5, 2.0, len(b))}, {"action": rng.integers(0, 4, len(b))}]
    for extra in variants:
        batch = {**base, **extra}
        for method, opts in (("grpo", {}), ("gigpo", {}), ("graphgpo", {}),
                             ("graphgpo", {"normalize_distance": True, "convention": "paper"}),
                             ("graphgpo", {"distance": "expected"})):
            if opts.get("distance") == "expected" and "action" not in extra:
                continue
            got, dnext = emulator.advantages(method, batch, **opts)
            assert got.tobytes() == graphgpo.advantages(method, **batch, **opts).tobytes(), (method, opts, extra)
            if method == "graphgpo":
                assert dnext.tobytes() == cpu_next_distances(batch, opts.get("distance", "shortest")).tobytes()


@pytest.mark.parametrize("bad", BAD_BATCHES)
@pytest.mark.parametrize("method", ["grpo", "graphgpo"])
def test_emulated_validation_names_the_same_row(emulator, bad, method):
    batch = {**GOOD_BATCH, **bad}
    message = cpu_error(method, batch)
    assert message is not None
    with pytest.raises(ValueError) as caught:
        emulator.advantages(method, batch)
    assert str(caught.value) == message


def test_emulated_fingerprints_equal_graphgpo_fingerprint(emulator):
    rng = np.random.default_rng(1)
    ints = rng.integers(-(2**63), 2**63 - 1, size=200, dtype=np.int64)
    assert np.array_equal(emulator.int64(ints), host_fp(ints))
    for width in (0, 1, 2, 7, 8, 9, 16, 33, 200):
        tokens = rng.integers(0, 50_000, size=(40, width), dtype=np.int64)
        assert np.array_equal(emulator.rows(tokens), host_fp(tokens))
        assert np.array_equal(emulator.rows(tokens.astype(np.int32).astype(np.int64)),
                              host_fp(tokens.astype(np.int32)))
        lengths = rng.integers(0, width + 1, size=40)
        ragged = [list(map(int, row[:k])) for row, k in zip(tokens, lengths)]
        assert np.array_equal(emulator.rows(tokens, lengths), host_fp(ragged))
        flags = rng.integers(0, 2, size=(40, width)).astype(bool)
        assert np.array_equal(emulator.rows(flags.astype(np.uint8)), host_fp(flags))
        floats = rng.normal(size=(40, width))
        assert np.array_equal(emulator.rows(floats), host_fp(floats))


# ---------------------------------------------------------------------------------------------------------
# graphgpo.cuda end to end on CPU tensors, with the emulation standing in for _core._cuda


class EmulatedCuda:
    """The interface of graphgpo._core._cuda, backed by the host emulation."""

    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self.calls: list[str] = []

    def compiled(self):
        return True

    def device_count(self):
        return 1

    def workspace_size(self, method, n, options_json):
        _core.check_options(options_json)
        return 256

    @staticmethod
    def _array(capsule):
        return None if capsule is None else torch.from_dlpack(capsule).numpy()

    def advantages(self, method, *args):
        *fields, options_json, out, workspace, stream = args
        self.calls.append(method)
        arrays = {name: self._array(c) for name, c in zip(FIELDS, fields)}
        for name in ("state", "next_state"):
            if arrays[name] is not None:
                assert arrays[name].dtype == np.int64 and arrays[name].shape[1] == 2
                arrays[name] = arrays[name].view(np.uint64)
        assert arrays["success"].dtype == np.uint8 and arrays["group"].dtype == np.int64
        assert self._array(workspace).size >= 256 and stream == 0
        result, _ = self.emulator.arrays(method, arrays, options_json)
        torch.from_dlpack(out).copy_(torch.from_numpy(result))

    def next_state_distances(self, *args):
        *fields, options_json, out, stream = args
        names = ("group", "trajectory", "state", "next_state", "success", "cost", "action")
        arrays = {name: self._array(c) for name, c in zip(names, fields)}
        for name in ("state", "next_state"):
            if arrays[name] is not None:
                arrays[name] = arrays[name].view(np.uint64)
        _, dnext = self.emulator.arrays("graphgpo", arrays, options_json)
        torch.from_dlpack(out).copy_(torch.from_numpy(dnext))

    def fingerprint_int64(self, values, out, stream):
        torch.from_dlpack(out).copy_(torch.from_numpy(self.emulator.int64(self._array(values)).view(np.int64)))

    def fingerprint_rows(self, rows, lengths, out, stream):
        fp = self.emulator.rows(self._array(rows), self._array(lengths))
        torch.from_dlpack(out).copy_(torch.from_numpy(fp.view(np.int64)))


@pytest.fixture
def emulated_cuda(emulator, monkeypatch):
    if torch is None:
        pytest.skip("needs PyTorch")
    fake = EmulatedCuda(emulator)
    monkeypatch.setattr(gcuda, "_DEVICE_TYPE", "cpu")
    monkeypatch.setattr(gcuda, "_core", types.SimpleNamespace(_cuda=fake, check_options=_core.check_options))
    return fake


def tensors(batch: dict, device="cpu") -> dict:
    """A hypothesis batch as tensors (integer states, bool flags)."""
    out = {}
    for name, value in batch.items():
        if value is None:
            out[name] = None
        elif name in ("success", "valid"):
            out[name] = torch.tensor(np.asarray(value, dtype=bool), device=device)
        elif name in ("reward", "cost"):
            out[name] = torch.tensor(np.asarray(value, dtype=np.float64), device=device)
        else:
            out[name] = torch.tensor(np.asarray(value, dtype=np.int64), device=device)
    return out


def test_python_layer_end_to_end(emulated_cuda):
    for (method, opts), expected in EXPECTED_1.items():
        kinds = [
            ({k: v for k, v in EXAMPLE_1.items()}, "text"),
            ({**EXAMPLE_1, "state": gcuda.Fingerprints(torch.from_numpy(
                host_fp(EXAMPLE_1["state"]).view(np.int64))),
              "next_state": gcuda.Fingerprints(host_fp(EXAMPLE_1["next_state"]))}, "fingerprints"),
        ]
        for batch, _kind in kinds:
            got = gcuda.advantages(method, **batch, omega=0.5, **dict(opts))
            assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
            np.testing.assert_allclose(got.numpy(), expected, atol=2e-6)
    assert set(emulated_cuda.calls) == {"grpo", "gigpo", "graphgpo"}


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_python_layer_state_kinds_match_the_cpu(emulated_cuda, data):
    method = data.draw(st.sampled_from(["gigpo", "graphgpo"]))
    batch = data.draw(batches())
    opts = data.draw(options(method))
    expected = graphgpo.advantages(method, **batch, **opts)
    t = tensors(batch)
    kind = data.draw(st.sampled_from(["ints", "rows", "tokens", "fingerprints", "numpy"]))
    if kind == "rows":  # int32 rows hash like int64 rows, as on the CPU
        conv = lambda xs: torch.tensor(np.stack([np.asarray(xs), np.asarray(xs) * 3], 1), dtype=torch.int32)  # noqa: E731
        cpu = lambda xs: np.stack([np.asarray(xs), np.asarray(xs) * 3], 1)  # noqa: E731
    elif kind == "tokens":  # ragged sequences: state x -> [x] * (x % 3 + 1)
        def conv(xs):
            lengths = np.asarray(xs) % 3 + 1
            tokens = np.zeros((len(xs), 3), dtype=np.int64)
            for i, (x, k) in enumerate(zip(xs, lengths)):
                tokens[i, :k] = x
            return gcuda.TokenRows(torch.from_numpy(tokens), torch.from_numpy(lengths))

        def cpu(xs):
            return [[int(x)] * (int(x) % 3 + 1) for x in xs]
    elif kind == "fingerprints":
        conv = lambda xs: gcuda.Fingerprints(torch.from_numpy(host_fp(np.asarray(xs)).view(np.int64)))  # noqa: E731
        cpu = None
    elif kind == "numpy":
        conv = lambda xs: np.asarray(xs)  # noqa: E731
        cpu = None
    else:
        conv = None
        cpu = None
    if conv is not None:
        t["state"] = conv(batch["state"])
        if batch["next_state"] is not None:
            t["next_state"] = conv(batch["next_state"])
    if cpu is not None:
        other = dict(batch, state=cpu(batch["state"]))
        if batch["next_state"] is not None:
            other["next_state"] = cpu(batch["next_state"])
        assert graphgpo.advantages(method, **other, **opts).tobytes() == expected.tobytes()
    got = gcuda.advantages(method, **t, **opts)
    assert got.numpy().tobytes() == expected.tobytes()
    if method == "graphgpo":
        dist = gcuda.next_state_distances(group=t["group"], trajectory=t["trajectory"], state=t["state"],
                                          success=t["success"], next_state=t["next_state"], cost=t["cost"],
                                          action=t["action"])
        assert dist.numpy().tobytes() == cpu_next_distances(batch).tobytes()


def test_python_layer_errors(emulated_cuda):
    t = tensors(GOOD_BATCH)
    with pytest.raises(ValueError, match="unequal lengths: success has 5 rows"):
        gcuda.advantages("grpo", **{**t, "success": t["success"][:5]})
    with pytest.raises(TypeError, match="group must hold integers"):
        gcuda.advantages("grpo", **{**t, "group": t["group"].double()})
    with pytest.raises(ValueError, match="success must be boolean; row 2"):
        gcuda.advantages("grpo", **{**t, "success": torch.tensor([1.0, 1.0, 0.5, 0, 0, 1])})
    with pytest.raises(ValueError, match="unknown option 'zscore'"):
        gcuda.advantages("grpo", **t, zscore=True)
    with pytest.raises(TypeError, match="float states"):
        gcuda.advantages("graphgpo", **{**t, "state": t["state"].double()})
    for bad in BAD_BATCHES:
        batch = {**GOOD_BATCH, **bad}
        with pytest.raises(ValueError) as caught:
            gcuda.advantages("graphgpo", **tensors(batch))
        assert str(caught.value) == cpu_error("graphgpo", batch)
    empty = gcuda.advantages("graphgpo", group=torch.zeros(0, dtype=torch.int64),
                             trajectory=torch.zeros(0, dtype=torch.int64), state=torch.zeros(0, dtype=torch.int64),
                             success=torch.zeros(0, dtype=torch.bool))
    assert empty.shape == (0,) and empty.dtype == torch.float64


def test_python_layer_fingerprint(emulated_cuda):
    tokens = torch.randint(0, 1000, (30, 5))
    lengths = torch.randint(0, 6, (30,))
    ragged = [row[:k].tolist() for row, k in zip(tokens, lengths)]
    got = gcuda.fingerprint(gcuda.TokenRows(tokens, lengths))
    assert np.array_equal(got.numpy().view(np.uint64), host_fp(ragged))
    assert np.array_equal(gcuda.fingerprint(tokens).numpy().view(np.uint64), host_fp(tokens.numpy()))
    ints = torch.arange(-5, 5)
    assert np.array_equal(gcuda.fingerprint(ints).numpy().view(np.uint64), host_fp(ints.numpy()))
    text = ["a", "b", "a"]
    assert np.array_equal(gcuda.fingerprint(text).numpy().view(np.uint64), host_fp(text))


# ---------------------------------------------------------------------------------------------------------
# On a GPU: the real kernels


@needs_gpu
def test_device_spec_examples():
    for (method, opts), expected in EXPECTED_1.items():
        got = gcuda.advantages(method, **EXAMPLE_1, omega=0.5, **dict(opts))
        assert got.is_cuda and got.dtype == torch.float64
        np.testing.assert_allclose(got.cpu().numpy(), expected, atol=2e-6)
    for distance, expected in EXPECTED_2.items():
        got = gcuda.advantages("graphgpo", **EXAMPLE_2, omega=0.5, distance=distance)
        np.testing.assert_allclose(got.cpu().numpy(), expected, atol=2e-6)


@needs_gpu
@SETTINGS
@given(data=st.data())
def test_device_matches_the_cpu_engine(data):
    method = data.draw(st.sampled_from(CUDA_METHODS))
    expected_distance = method == "graphgpo" and data.draw(st.booleans())
    batch = data.draw(batches(with_action=True if expected_distance else None))
    opts = data.draw(options(method))
    if expected_distance:
        opts["distance"] = "expected"
    t = tensors(batch, "cuda")
    got = gcuda.advantages(method, **t, **opts).cpu().numpy()
    want = graphgpo.advantages(method, **batch, **opts)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)  # the contract; bit-identical by construction
    assert got.tobytes() == want.tobytes()
    if method == "graphgpo":
        dist = gcuda.next_state_distances(group=t["group"], trajectory=t["trajectory"], state=t["state"],
                                          success=t["success"], next_state=t["next_state"], cost=t["cost"],
                                          action=t["action"], distance=opts.get("distance", "shortest"))
        assert dist.cpu().numpy().tobytes() == cpu_next_distances(batch, opts.get("distance", "shortest")).tobytes()


@needs_gpu
def test_device_large_batches_and_token_states():
    sys.path.insert(0, str(ROOT))
    data = pytest.importorskip("benchmarks.data")
    b = data.generate(data.sweep_shape(200_000))
    rng = np.random.default_rng(0)
    ids = np.asarray(b.distinct, dtype=np.int64)
    tokens = np.stack([ids[b.state_ids] % 50_000, ids[b.state_ids] // 50_000 % 50_000], 1)
    batch = {"group": b.group, "trajectory": b.trajectory, "state": tokens, "success": b.success, "valid": b.valid,
             "cost": rng.uniform(0.5, 2.0, len(b)), "action": rng.integers(0, 4, len(b))}
    t = {k: torch.from_numpy(np.ascontiguousarray(v)).cuda() for k, v in batch.items()}
    for method, opts in (("grpo", {}), ("gigpo", {}), ("graphgpo", {}), ("graphgpo", {"distance": "expected"})):
        got = gcuda.advantages(method, **t, **opts).cpu().numpy()
        want = graphgpo.advantages(method, **batch, **opts)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@needs_gpu
def test_device_fingerprints_equal_the_host():
    tokens = torch.randint(0, 50_000, (500, 37), device="cuda")
    lengths = torch.randint(0, 38, (500,), device="cuda")
    ragged = [row[:k].tolist() for row, k in zip(tokens.cpu(), lengths.cpu())]
    assert np.array_equal(gcuda.fingerprint(gcuda.TokenRows(tokens, lengths)).cpu().numpy().view(np.uint64),
                          host_fp(ragged))
    assert np.array_equal(gcuda.fingerprint(tokens.int()).cpu().numpy().view(np.uint64),
                          host_fp(tokens.cpu().numpy()))
    ints = torch.randint(-(2**62), 2**62, (1000,), device="cuda")
    assert np.array_equal(gcuda.fingerprint(ints).cpu().numpy().view(np.uint64),
                          host_fp(ints.cpu().numpy()))
    with pytest.raises(ValueError, match="outside"):
        gcuda.fingerprint(gcuda.TokenRows(tokens, lengths + 100))


@needs_gpu
@pytest.mark.parametrize("bad", BAD_BATCHES)
def test_device_validation_matches_the_cpu(bad):
    batch = {**GOOD_BATCH, **bad}
    with pytest.raises(ValueError) as caught:
        gcuda.advantages("graphgpo", **tensors(batch, "cuda"))
    assert str(caught.value) == cpu_error("graphgpo", batch)


@needs_gpu
def test_device_runs_on_the_current_stream_and_leaves_inputs_alone():
    t = tensors(EXAMPLE_2 | {"state": list(range(11)), "next_state": [x + 1 for x in range(11)],
                             "action": [0] * 11}, "cuda")
    before = {k: v.clone() for k, v in t.items() if v is not None}
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        got = gcuda.advantages("graphgpo", **t, distance="expected")
    stream.synchronize()
    assert got.device == t["group"].device
    for k, v in before.items():
        assert torch.equal(t[k], v)
    want = graphgpo.advantages("graphgpo", **{k: v.cpu().numpy() for k, v in t.items() if v is not None},
                               distance="expected")
    np.testing.assert_allclose(got.cpu().numpy(), want, rtol=0, atol=1e-12)


def test_emulated_pipeline_refuses_progpo(emulator):
    with pytest.raises(ValueError, match="progpo is not implemented on the CUDA path"):
        emulator.advantages("progpo", GOOD_BATCH)


def test_the_cuda_smoke_program_reports_a_skip_distinctly():
    """Without a device graphgpo_cuda_smoke compares nothing: it must say SKIP and exit 77, never 0 (a pass)."""
    source = (ROOT / "tests" / "cuda" / "smoke_main.cpp").read_text()
    no_device = source[source.index("if (!graphgpo::cuda::compiled() || graphgpo::cuda::device_count() == 0)"):]
    no_device = no_device[: no_device.index("}") + 1]
    assert "SKIP" in no_device and "return kSkipped;" in no_device and "return 0" not in no_device
    assert "constexpr int kSkipped = 77;" in source
