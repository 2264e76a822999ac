"""Scratch memory is given back after an outsized call: the engine's per-thread workspaces (its worker threads
live as long as the process) do not keep what one huge group needed."""

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")

CHILD = textwrap.dedent(
    """
    import json, os, resource
    import numpy as np
    import graphgpo

    def rss_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def batch(n, groups):
        rng = np.random.default_rng(0)
        group = np.repeat(np.arange(groups, dtype=np.int64), n // groups)
        trajectory = np.sort(group * 1000 + rng.integers(0, 64, len(group)), kind="stable")
        state = graphgpo.fingerprint(rng.integers(0, len(group) // 2, len(group)))
        return dict(group=group, trajectory=trajectory, state=state, success=trajectory % 3 == 0)

    graphgpo.advantages("graphgpo", **batch(1 << 14, 16))  # threads and small workspaces exist
    big = batch(1 << 21, 1)  # one group of 2M rows: ~100+ bytes of scratch per row
    out = np.empty(len(big["group"]))  # the result's size, allocated before measuring
    out[:] = 0
    before = rss_mb()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for method in ("graphgpo", "gigpo", "progpo"):
        out[:] = graphgpo.advantages(method, **big)
    after = rss_mb()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(dict(before=before, after=after, peak_growth=peak - peak_before)))
    """
)


def test_an_outsized_group_does_not_keep_its_scratch_memory():
    run = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    r = json.loads(run.stdout.strip().splitlines()[-1])
    # The calls needed a lot of scratch memory (so the test means something) and kept little of it.
    assert r["peak_growth"] > 150, r
    assert r["after"] - r["before"] < 40, r
