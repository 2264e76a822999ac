"""The command line: --version, python -m graphgpo, info that explains itself, docs that ship; and a clean
top-level namespace."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import graphgpo
from graphgpo import cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run([sys.executable, "-m", "graphgpo", *args], capture_output=True, text=True, timeout=120)


def test_version_flag_prints_the_version():
    """`graphgpo --version` used to print the help and exit 0."""
    done = run("--version")
    assert done.returncode == 0 and done.stdout == f"graphgpo {graphgpo.__version__}\n"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0


def test_python_dash_m_runs_the_cli():
    done = run()
    assert done.returncode == 0 and "usage: graphgpo" in done.stdout
    for command in ("demo", "info", "docs"):
        assert re.search(rf"^\s+{command}\s+\S", done.stdout, re.M), command


def test_info_explains_its_fields(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"graphgpo {graphgpo.__version__} on Python ")
    assert "advantages: True" not in out
    build = graphgpo.build_info()
    assert f"C ABI version {build['abi_version']}" in out and f"threads: {build['threads']} by default" in out
    assert ("CUDA kernels: compiled in" if build["cuda"] else "CUDA kernels: not compiled in") in out
    assert f"docs: {graphgpo.docs_path()} (graphgpo docs lists them)" in out
    assert re.search(r"^  numpy\s+\S+\s+required$", out, re.M)
    assert cli.main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["version"] == graphgpo.__version__ and info["build_info"] == build
    assert info["docs"] == graphgpo.docs_path()


def test_docs_ship_with_the_package():
    """SPEC.md and the guide are installed with the package (the wheel), not only in the repository."""
    root = Path(graphgpo.docs_path())
    shipped = {p.name for p in root.glob("*.md")}
    in_repo = {p.name for p in (ROOT / "docs").glob("*.md")} - {"design.md"}
    assert {"SPEC.md", "guide.md"} <= shipped
    assert shipped == in_repo, "installed docs differ from docs/: reinstall (pip install -e .)"
    for name in shipped:  # the same pages (first line), not copies of something else
        first = (ROOT / "docs" / name).read_text(encoding="utf-8").splitlines()[0]
        assert (root / name).read_text(encoding="utf-8").splitlines()[0] == first


def test_docs_command_lists_and_prints_pages():
    listing = run("docs")
    assert listing.returncode == 0 and graphgpo.docs_path() in listing.stdout
    names = re.findall(r"^  (\w+)\s+\S+\.md\s", listing.stdout, re.M)
    assert names[:2] == ["guide", "spec"] and "design" not in names
    spec = run("docs", "spec")
    assert spec.returncode == 0
    assert spec.stdout == (Path(graphgpo.docs_path()) / "SPEC.md").read_text(encoding="utf-8")
    missing = run("docs", "nope")
    assert missing.returncode == 2 and "no page 'nope'; pages: guide, spec" in missing.stderr


def test_namespace_is_the_public_api():
    """dir(graphgpo) used to show `annotations` (from a __future__ import) and private helpers."""
    names = set(dir(graphgpo))
    assert "annotations" not in names and not {n for n in names if n.startswith("_") and n != "__version__"}
    assert set(graphgpo.__all__) <= names
    modules = names - set(graphgpo.__all__)
    assert {"trl", "envs", "cuda"} <= modules
    for name in modules:
        assert not hasattr(graphgpo, name) or type(getattr(graphgpo, name)).__name__ == "module", name


def test_tiny_model_docstring_counts_its_parameters():
    """The docstring said ~50k parameters; state the real count and check it."""
    pytest.importorskip("trl")
    from graphgpo.trl import testing

    tokenizer = testing.tiny_tokenizer()
    count = sum(p.numel() for p in testing.tiny_model(tokenizer).parameters())
    doc = " ".join(testing.tiny_model.__doc__.split())
    assert f"{count:,} with the default ``tiny_tokenizer()`` ({len(tokenizer)} tokens)" in doc
    assert count == 4752 + 16 * len(tokenizer) and "4,752 parameters plus 16 per vocabulary entry" in doc
    assert "50k" not in testing.__doc__
