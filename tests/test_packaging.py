"""One version everywhere, stubs that match the compiled module, and the files the wheel must ship."""

import ast
import re
from pathlib import Path

import pytest

import graphgpo
from graphgpo import _core

ROOT = Path(__file__).resolve().parents[1]


def test_version_has_one_source():
    cmake = (ROOT / "CMakeLists.txt").read_text()
    version = re.search(r"project\(graphgpo\s+VERSION\s+([0-9.]+)", cmake).group(1)
    assert graphgpo.__version__ == version == graphgpo.build_info()["version"]
    assert 'dynamic = ["version"]' in (ROOT / "pyproject.toml").read_text()
    assert f"## [{version}]" in (ROOT / "CHANGELOG.md").read_text()


def test_stubs_cover_the_compiled_module():
    tree = ast.parse((ROOT / "src" / "graphgpo" / "_core.pyi").read_text())
    stubbed = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    compiled = {name for name in dir(_core) if not name.startswith("_")}
    assert stubbed == compiled
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "GraphBatch")
    methods = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
    assert methods == {m for m in dir(_core.GraphBatch) if not m.startswith("_")}


def test_facade_exports():
    for name in graphgpo.__all__:
        assert hasattr(graphgpo, name), name
    assert Path(graphgpo.get_include(), "graphgpo", "graphgpo.h").exists()
    assert Path(graphgpo.get_library()).exists()
    assert Path(graphgpo.get_cmake_dir(), "graphgpoConfig.cmake").exists()
    assert (Path(graphgpo.__file__).parent / "py.typed").exists()
    # The build says whether it has the CUDA kernels, the same way everywhere: the Python API, build_info and
    # the C ABI; a wheel built without GRAPHGPO_CUDA=ON (CI's) has none.
    import ctypes
    import os

    cuda = graphgpo.cuda_available()
    assert isinstance(cuda, bool) and graphgpo.build_info()["cuda"] is cuda
    assert bool(ctypes.CDLL(graphgpo.get_library()).graphgpo_cuda_available()) is cuda
    if os.environ.get("GRAPHGPO_CUDA", "OFF").upper() in ("", "0", "OFF", "FALSE", "NO"):
        assert cuda is False, "built without GRAPHGPO_CUDA=ON, yet the build claims CUDA kernels"


@pytest.mark.parametrize("name", ["reference", "reference_similar", "reference_memory"])
def test_reference_is_independent_of_the_engine(name):
    """graphgpo.testing's references are the ground truth: they import the standard library and each other
    only, never the engine."""
    import sys

    tree = ast.parse((ROOT / "src" / "graphgpo" / "testing" / f"{name}.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level:
            assert node.level == 1 and node.module in ("reference", "reference_similar", "reference_memory"), node.module
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported and imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
