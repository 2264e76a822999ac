"""The options JSON reader (cpp/src/json_reader.cpp): strict RFC 8259, locale-independent, duplicate keys
refused, NaN/Infinity (which Python's json.dumps writes) read as numbers so that the error says "must be
finite". Checked case by case, against Python's json module on random texts, and under a German locale
(decimal comma) in a subprocess."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphgpo import _core


def accepts(text: str) -> bool:
    try:
        _core.check_options(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("text", [
    "", "   ", "null", "{}", " { } ", '{"omega": 0.5}', '{"omega": 5e-1}', '{"omega": 5E-1}', '{"omega": 0.5e0}',
    '{"omega":0.5,"gamma":1}', '{"gamma": 0}', '{"gamma": -0}', '{"omega": 0.25, "num_threads": 2}',
    '{"norm": "mean"}', '{"norm": "m\\u0065an"}', '{"norm": "\\u006d\\u0065\\u0061\\u006e"}',
    '{"normalize_distance": true}', '{"num_threads": null}', '\t{\n"omega"\r:\n0.5}\n',
    '{"omega": 0.50000000000000000000000000000000001}', '{"omega": 1e-400}',  # underflows to 0 -> range error
])
def test_valid_json_parses(text):
    if "1e-400" in text:  # valid JSON, the value (0) is then out of omega's range
        with pytest.raises(ValueError, match="option 'omega' must lie in"):
            _core.check_options(text)
    else:
        _core.check_options(text)


@pytest.mark.parametrize("text, message", [
    ('{"omega": 0,5}', "options JSON"),  # the decimal comma strtod took under de_DE
    ('{"omega": 0x1p-1}', "options JSON"),  # hex float (strtod)
    ('{"omega": 0x10}', "options JSON"),
    ('{"omega": 00.5}', "leading zeros"),
    ('{"gamma": 01}', "leading zeros"),
    ('{"omega": .5}', "options JSON"),
    ('{"omega": 5.}', "digit after the decimal point"),
    ('{"omega": +0.5}', "options JSON"),
    ('{"omega": 1e}', "digit in the exponent"),
    ('{"omega": -}', "expected a digit"),
    ('{"omega": 0.5,}', "expected a string key"),
    ('{"omega": 0.5 "gamma": 1}', "expected ',' or '}'"),
    ("{'omega': 0.5}", "expected a string key"),
    ('{"omega": 0.5} x', "unexpected characters after the object"),
    ('{"omega": 0.5}{}', "unexpected characters after the object"),
    ('{"omega": 0.5, "omega": 0.2}', "duplicate key 'omega'"),
    ('{"norm": "mean", "norm": "mean"}', "duplicate key 'norm'"),
    ('{"omega": [0.5]}', "not arrays or objects"),
    ('{"omega": {"a": 1}}', "not arrays or objects"),
    ('[]', "expected '{'"),
    ('"omega"', "expected '{'"),
    ('{"norm": "me\tan"}', "control character"),
    ('{"norm": "\\x41"}', "unknown escape"),
    ('{"norm": "\\ud800"}', "high surrogate"),
    ('{"norm": "\\udc00"}', "lone low surrogate"),
    ('{"norm": "\\u12"}', "four hex digits"),
    ('{"norm": "mean}', "unterminated string"),
    ('{"normalize_distance": tru}', "options JSON"),
    ('{"normalize_distance": truex}', "options JSON"),
    ('{"omega": nan}', "options JSON"),
    ('{"omega": 0.5}\v', "unexpected characters"),  # \v is not JSON whitespace (isspace took it)
    ('{"omega" 0.5}', "expected ':'"),
    ('{"omega": 1 /* c */}', "options JSON"),
    ('{', "expected a string key"),
])
def test_invalid_json_is_refused(text, message):
    with pytest.raises(ValueError, match=message):
        _core.check_options(text)


def test_invalid_utf8_is_refused():
    for raw in (b'{"norm": "\xff"}', b'{"norm": "\xc0\xaf"}', b'{"norm": "\xed\xa0\x80"}',
                b'{"norm": "\xf4\x90\x80\x80"}', b'{"norm": "\xe2\x82"}'):
        with pytest.raises(ValueError, match="invalid UTF-8"):
            _core.check_options(raw)  # bytes reach the reader unchanged


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("option", ["omega", "gamma", "eps", "success_reward", "episode_weight"])
def test_non_finite_numbers_say_must_be_finite(option, value):
    text = json.dumps({option: value})  # Python writes NaN / Infinity / -Infinity
    with pytest.raises(ValueError, match=f"option '{option}' must be finite"):
        _core.check_options(text)


def test_literals_beyond_float64_say_must_be_finite():
    with pytest.raises(ValueError, match="option 'success_reward' must be finite"):
        _core.check_options('{"success_reward": 1e999}')
    with pytest.raises(ValueError, match="option 'success_reward' must be finite"):
        _core.check_options('{"success_reward": -123456789e400}')


def test_escapes_decode_to_the_option_names_and_values():
    _core.check_options('{"\\u006fmega": 0.5, "no\\u0072m": "mean"}')
    with pytest.raises(ValueError, match="unknown option 'a/b\"c\\\\d\n'"):
        _core.check_options('{"a\\/b\\"c\\\\d\\n": 1}')
    # A surrogate pair (U+1F600) in a key: decoded to UTF-8, reported in the message.
    with pytest.raises(ValueError, match="unknown option '\U0001F600'"):
        _core.check_options('{"\\ud83d\\ude00": 1}')
    with pytest.raises(ValueError, match="unknown option 'é'"):
        _core.check_options('{"é": 1}')


# Random texts: the reader accepts exactly what Python's strict json module accepts (as one object of
# scalars, without duplicate keys and without NaN/Infinity, which Python's parser takes as an extension).
json_tokens = st.sampled_from([
    "{", "}", "[", "]", ",", ":", " ", "\n", '"omega"', '"gamma"', '"norm"', '"mean"', '"x"', '"\\u0041"',
    '"\\ud83d\\ude00"', '"\\ud83d"', '"\\q"', "0", "1", "-", "0.5", "5e-1", "00", "1.", ".5", "1e5", "1E+2", "-0",
    "true", "false", "null", "tru", "NaN", "Infinity", "0x10", "+1", "'", '"', "\\", "é", "\t",
])


def python_accepts(text: str) -> bool:
    def pairs(items):
        keys = [k for k, _ in items]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate")
        return dict(items)

    def no_constant(name):
        raise ValueError(name)

    if text.strip(" \t\r\n") in ("", "null"):
        return True
    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_constant=no_constant)
    except ValueError:
        return False
    return isinstance(value, dict) and all(not isinstance(v, (dict, list)) for v in value.values())


def engine_syntax_ok(text: str) -> bool:
    """The engine accepts the JSON (it may still refuse the options it names, not the syntax)."""
    try:
        _core.check_options(text)
    except ValueError as error:
        message = str(error)
        if message.startswith("options JSON:"):
            return False
        assert "NaN" not in text and "Infinity" not in text or "must be finite" in message, message
        return True
    return True


@settings(max_examples=500, deadline=None)
@given(st.lists(json_tokens, max_size=12).map("".join))
def test_syntax_matches_pythons_json(text):
    if "NaN" in text or "Infinity" in text:
        return  # accepted on purpose (see json_reader.hpp); covered by the must-be-finite tests
    assert engine_syntax_ok(text) == python_accepts(text), text


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["omega", "gamma", "eps", "success_reward"]),
                       st.floats(allow_nan=False, allow_infinity=False), max_size=4))
def test_any_float_python_writes_reads_back_exactly(options):
    # json.dumps writes repr(float): shortest round-trip digits, exponents like 1e-07, 1.5e+300.
    text = json.dumps(options)
    try:
        _core.check_options(text)
    except ValueError as error:
        assert "must lie in" in str(error) or "must be >=" in str(error), (text, error)


GERMAN = textwrap.dedent("""
    import json, locale, sys
    from graphgpo import _core
    locale.setlocale(locale.LC_ALL, "de_DE.UTF-8")
    assert locale.localeconv()["decimal_point"] == ","
    _core.check_options('{"omega": 0.5, "gamma": 1e-1}')
    # The JSON the engine writes is JSON under any locale (printf's %g would write 0,1).
    schema = {o["name"]: o for o in json.loads(_core.option_schema())["options"]}
    assert schema["omega"]["default"] == 0.1 and schema["eps"]["default"] == 1e-6, schema["omega"]
    try:
        _core.check_options('{"omega": 0,5}')
    except ValueError:
        print("ok")
""")


def test_options_do_not_depend_on_the_locale(tmp_path):
    localedef = shutil.which("localedef")
    if localedef is None:
        pytest.skip("localedef is not installed: cannot make a decimal-comma locale")
    made = subprocess.run([localedef, "-i", "de_DE", "-f", "UTF-8", str(tmp_path / "de_DE.UTF-8")],
                          capture_output=True, text=True)
    if made.returncode not in (0, 1) or not (tmp_path / "de_DE.UTF-8").exists():  # 1: warnings only
        pytest.skip(f"localedef could not build de_DE.UTF-8: {made.stderr.strip()[:200]}")
    env = {**os.environ, "LOCPATH": str(tmp_path), "LC_ALL": ""}
    run = subprocess.run([sys.executable, "-c", GERMAN], capture_output=True, text=True, env=env)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]
