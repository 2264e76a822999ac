"""Every C status code is either returned where it belongs or documented as reserved (graphgpo.h)."""

import re
from pathlib import Path

HEADER = Path(__file__).resolve().parents[1] / "cpp" / "include" / "graphgpo" / "graphgpo.h"
C_API = Path(__file__).resolve().parents[1] / "cpp" / "src" / "c_api.cpp"


def _status_codes():
    text = HEADER.read_text()
    body = text[text.index("typedef enum graphgpo_status {"):text.index("} graphgpo_status_t;")]
    return {name: comment for name, comment in re.findall(r"(GRAPHGPO_[A-Z_]+) = \d+,?\s*(/\*.*?\*/)?", body, re.S)}


def test_every_status_code_is_documented_and_the_reserved_one_is_said_to_be():
    codes = _status_codes()
    assert set(codes) == {"GRAPHGPO_OK", "GRAPHGPO_INVALID_ARGUMENT", "GRAPHGPO_TYPE_ERROR", "GRAPHGPO_OUT_OF_MEMORY",
                          "GRAPHGPO_NOT_COMPILED_WITH_CUDA", "GRAPHGPO_INTERNAL", "GRAPHGPO_IO_ERROR"}
    assert "reserved" in codes["GRAPHGPO_NOT_COMPILED_WITH_CUDA"]
    assert "similar" in codes["GRAPHGPO_TYPE_ERROR"]  # returned: see test_c_abi_batch's type error test
    # Reserved because no C function runs on a device: a new one must return it (and update the header).
    functions = set(re.findall(r"GRAPHGPO_API [^;]*?\b(graphgpo_\w+)\(", HEADER.read_text()))
    assert [f for f in functions if "cuda" in f or "device" in f] == ["graphgpo_cuda_available"]
    # Every code the engine can raise is mapped.
    mapping = C_API.read_text()
    for name in ("GRAPHGPO_INVALID_ARGUMENT", "GRAPHGPO_TYPE_ERROR", "GRAPHGPO_OUT_OF_MEMORY", "GRAPHGPO_INTERNAL",
                 "GRAPHGPO_IO_ERROR"):
        assert f"return {name};" in mapping, name
