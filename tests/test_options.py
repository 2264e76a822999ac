"""The option table: the engine is the one source of option names, defaults, allowed values and docs."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

import graphgpo
from graphgpo import _core
from graphgpo.testing.reference import DEFAULTS as REFERENCE_DEFAULTS
from graphgpo.testing.reference import reference_advantages
from graphgpo.testing.spec_examples import EXAMPLE_1

SCHEMA = json.loads(_core.option_schema())["options"]
SCOPES = {"episode", "step", "discounted_returns", "distance_returns", "distance", "states", "engine"}


def test_default_options_are_the_engine_table():
    expected = {o["name"]: o["default"] for o in SCHEMA if o["scope"] != "engine"}
    assert graphgpo.DEFAULT_OPTIONS == expected
    for o in SCHEMA:
        if o["name"] in graphgpo.DEFAULT_OPTIONS:
            python_type = {"number": float, "integer": int, "boolean": bool, "choice": str}[o["type"]]
            assert type(graphgpo.DEFAULT_OPTIONS[o["name"]]) is python_type, o["name"]


def test_reference_defaults_are_the_engine_defaults():
    """The reference keeps its own copy on purpose (it never imports the engine); this ties the two."""
    assert REFERENCE_DEFAULTS == graphgpo.DEFAULT_OPTIONS
    assert [type(v) for v in REFERENCE_DEFAULTS.values()] == [type(v) for v in graphgpo.DEFAULT_OPTIONS.values()]


def test_option_schema_is_a_copy_with_the_documented_keys():
    schema = graphgpo.option_schema()
    assert schema == SCHEMA
    schema[0]["default"] = "changed"
    assert graphgpo.option_schema() == SCHEMA
    for o in SCHEMA:
        assert {"name", "type", "default", "null_is_default", "scope", "used_by", "doc"} <= set(o), o
        assert o["scope"] in SCOPES and o["doc"] and not o["doc"].endswith(".")
        assert set(o["used_by"]) <= set(graphgpo.METHODS)
        assert (o["scope"] == "engine") == (not o["used_by"])
        if o["type"] == "choice":
            assert o["default"] in o["choices"]


@pytest.mark.parametrize("method", graphgpo.METHODS)
def test_the_engine_applies_the_table_defaults(method):
    implicit = graphgpo.advantages(method, **EXAMPLE_1)
    explicit = graphgpo.advantages(method, **EXAMPLE_1, **graphgpo.DEFAULT_OPTIONS)
    assert implicit.tobytes() == explicit.tobytes()
    np.testing.assert_allclose(implicit, reference_advantages(method, **EXAMPLE_1), atol=1e-9)


def test_unused_options_change_nothing():
    """used_by is honest: an option a method does not read leaves its result bit-identical."""
    changed = {"omega": 0.7, "gamma": 0.5, "success_reward": 3.0, "invalid_penalty": 0.4, "step_weight": 0.5,
               "episode_weight": 2.0, "norm": "mean", "eps": 1e-3, "convention": "paper",
               "episode_stats": "per_trajectory", "normalize_distance": True, "distance": "expected",
               "merge": "similar", "similarity": 0.5}
    assert set(changed) == set(graphgpo.DEFAULT_OPTIONS)
    batch = {**EXAMPLE_1, "action": [0] * len(EXAMPLE_1["group"])}
    for method in graphgpo.METHODS:
        base = graphgpo.advantages(method, **batch)
        for o in SCHEMA:
            if o["name"] in changed and method not in o["used_by"]:
                other = graphgpo.advantages(method, **batch, **{o["name"]: changed[o["name"]]})
                assert other.tobytes() == base.tobytes(), (method, o["name"])


def test_advantages_docstring_lists_every_option_with_its_default():
    doc = graphgpo.advantages.__doc__
    for name, default in graphgpo.DEFAULT_OPTIONS.items():
        assert f"{name}={default!r}: " in doc, name


def _outside(o):
    """Values just outside a bounded option's range, and the bounds it accepts."""
    bad, good = [], []
    for end, step in (("min", -1), ("max", 1)):
        if end in o:
            bound = o[end]
            (bad if o[f"{end}_open"] else good).append(bound)
            bad.append(bound + step * (1 if o["type"] == "integer" else 1e-3))
    return bad, good


@pytest.mark.parametrize("o", SCHEMA, ids=[o["name"] for o in SCHEMA])
def test_the_engine_checks_what_the_table_says(o):
    name = o["name"]
    bad, good = _outside(o)
    if o["type"] == "number":
        bad += [math.nan, math.inf, "text"]
    elif o["type"] == "integer":
        bad += [1.5, "2"]
        if o["null_is_default"]:
            good.append(None)
    elif o["type"] == "boolean":
        bad += [1, "true"]
        good += [True, False]
    else:
        bad += ["not-a-choice", 1]
        good += o["choices"]
    for value in bad:
        with pytest.raises(ValueError, match=f"option '{name}'"):
            _core.check_options(json.dumps({name: value}))
    for value in good:
        _core.check_options(json.dumps({name: value}))
    with pytest.raises(ValueError, match=f"unknown option 'nope': expected one of {', '.join(x['name'] for x in SCHEMA)}$"):
        _core.check_options('{"nope": 1}')


def test_trl_config_fields_follow_the_table():
    pytest.importorskip("trl")
    import dataclasses

    from graphgpo.trl import GraphGPOConfig

    fields = {f.name: f for f in dataclasses.fields(GraphGPOConfig)}
    for name, default in graphgpo.DEFAULT_OPTIONS.items():
        assert name in fields, name
        assert fields[name].default == default and type(fields[name].default) is type(default), name
    assert list(fields["advantage_estimator"].metadata["choices"]) == list(graphgpo.METHODS)
    assert "adv_eps" not in fields


def test_spec_states_the_engine_defaults():
    """docs/SPEC.md gives the defaults in prose; each sentence that states one must match the option table."""
    spec = (Path(__file__).resolve().parents[1] / "docs" / "SPEC.md").read_text(encoding="utf-8")
    d = graphgpo.DEFAULT_OPTIONS
    stated = {
        "omega": r"Defaults: omega ([0-9.e-]+)",
        "success_reward": r"success_reward ([0-9.e-]+), invalid_penalty",
        "invalid_penalty": r"invalid_penalty ([0-9.e-]+),\s*weights",
        "step_weight": r"weights ([0-9.e-]+)",
        "episode_weight": r"weights ([0-9.e-]+)",
        "gamma": r"with gamma \(([0-9.e-]+)\)",
        "eps": r"eps = ([0-9.e-]+)",
        "similarity": r"`similarity` \(default ([0-9.e-]+)",
        "norm": r"weights 1, norm (\w+)",
        "convention": r"convention (\w+), episode_stats",
        "episode_stats": r"episode_stats (\w+)\.",
        "merge": r'`merge="similar"` \(default `"(\w+)"`\)',
    }
    for name, pattern in stated.items():
        m = re.search(pattern, spec)
        assert m, f"SPEC no longer states the default of {name} as {pattern!r}"
        value = type(d[name])(m.group(1))
        assert value == d[name], (name, value, d[name])
