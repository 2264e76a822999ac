"""The estimator registry: the engine's list of methods is the one list, and everything derives from it."""

from __future__ import annotations

import ctypes
import json
import re

import pytest

import graphgpo
import graphgpo.cuda as gcuda
from graphgpo import _core
from graphgpo._api import prepare_batch
from graphgpo._estimators import CUDA_METHODS, ESTIMATORS
from graphgpo.testing import reference
from graphgpo.testing.spec_examples import EXAMPLE_1

REGISTRY = json.loads(_core.estimator_registry())["estimators"]


def test_methods_are_the_engine_registry():
    assert graphgpo.METHODS == tuple(e["name"] for e in REGISTRY)
    assert [tuple(e) for e in ESTIMATORS.values()] == [
        (e["name"], e["summary"], tuple(e["scopes"]), e["builds_graph"], e["needs_reverse_csr"],
         e["merges_graph_nodes"], e["supports_cuda"], e["supports_memory"])
        for e in REGISTRY]
    assert CUDA_METHODS == tuple(e["name"] for e in REGISTRY if e["supports_cuda"])


def test_every_method_has_a_plain_python_reference():
    assert tuple(reference.REFERENCES) == graphgpo.METHODS
    with pytest.raises(ValueError, match="registered twice"):
        reference.estimator("gigpo")(reference.gigpo_advantages)


def test_registry_entries_are_complete():
    option_scopes = {o["scope"] for o in graphgpo.option_schema()}
    for e in REGISTRY:
        assert e["summary"] and not e["summary"].endswith(".")
        assert "episode" in e["scopes"] and set(e["scopes"]) <= option_scopes - {"engine"}
        assert e["builds_graph"] == ("step" in e["scopes"]), e["name"]
        assert (reference.REFERENCES[e["name"]] is None) == (not e["builds_graph"])


def test_unknown_method_messages_list_the_registry():
    names = graphgpo.METHODS
    engine_list = ", ".join(f"'{m}'" for m in names[:-1]) + f" or '{names[-1]}'"
    with pytest.raises(ValueError, match=f"^unknown method 'ppo': expected {engine_list}$"):
        b = prepare_batch(**EXAMPLE_1)
        _core.advantages("ppo", b.group, b.trajectory, b.state, b.next_state, b.success, b.valid, b.reward, b.cost,
                         b.action, "")
    with pytest.raises(ValueError, match=f"^unknown method 'ppo': expected one of {', '.join(names)}$"):
        graphgpo.advantages("ppo", **EXAMPLE_1)
    with pytest.raises(ValueError, match="unknown method 'ppo'"):
        gcuda.advantages("ppo", **EXAMPLE_1)


def test_cuda_refuses_what_the_registry_says_it_lacks(monkeypatch):
    monkeypatch.setattr(gcuda, "CUDA_METHODS", tuple(m for m in CUDA_METHODS if m != "gigpo"))
    with pytest.raises(ValueError, match="gigpo is not implemented on the CUDA path"):
        gcuda.advantages("gigpo", **EXAMPLE_1)


def test_c_abi_lists_the_same_estimators():
    lib = ctypes.CDLL(graphgpo.get_library())
    lib.graphgpo_estimators.restype = ctypes.c_char_p
    assert json.loads(lib.graphgpo_estimators()) == {"estimators": REGISTRY}


def test_every_list_of_methods_is_the_registry():
    """METHODS, the C ABI's list, the TRL config's choices (field, command line, check), the CUDA path's and
    the graph memory's methods all equal the engine registry's (or its capability subset): adding an
    estimator to the registry adds it everywhere."""
    names = [e["name"] for e in REGISTRY]
    lib = ctypes.CDLL(graphgpo.get_library())
    lib.graphgpo_estimators.restype = ctypes.c_char_p
    assert [e["name"] for e in json.loads(lib.graphgpo_estimators())["estimators"]] == names
    assert list(graphgpo.METHODS) == names
    assert list(gcuda.CUDA_METHODS) == [e["name"] for e in REGISTRY if e["supports_cuda"]]
    assert list(graphgpo.MEMORY_METHODS) == [e["name"] for e in REGISTRY if e["supports_memory"]]
    used_by = set().union(*(o["used_by"] for o in graphgpo.option_schema()))
    assert used_by == set(names)

    pytest.importorskip("trl")
    from transformers import HfArgumentParser

    from graphgpo.trl import GraphGPOConfig
    from graphgpo.trl.config import ESTIMATORS as TRL_ESTIMATORS

    assert list(TRL_ESTIMATORS) == names
    assert GraphGPOConfig.__dataclass_fields__["advantage_estimator"].metadata["choices"] == names
    parser = HfArgumentParser(GraphGPOConfig)
    action = next(a for a in parser._actions if a.dest == "advantage_estimator")
    assert list(action.choices) == names
    base = {"output_dir": "unused", "use_cpu": True, "bf16": False, "report_to": "none", "num_generations": 2,
            "per_device_train_batch_size": 2}
    for name in names:
        assert GraphGPOConfig(**base, advantage_estimator=name).advantage_estimator == name
    with pytest.raises(ValueError, match=re.escape(f"advantage_estimator must be one of {names}")):
        GraphGPOConfig(**base, advantage_estimator="ppo")
