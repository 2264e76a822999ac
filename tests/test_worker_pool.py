"""The engine's threads under pressure: a thread the system refuses to start must never abort the process.

Each case runs in a fresh interpreter under an address-space limit (RLIMIT_AS) a little above what it
already uses, so starting a thread (8 MiB of stack each) fails after a few. Before the fix a caller that
found the worker pool busy died in std::terminate (its vector of half-started threads was destroyed), and
a lone caller got RuntimeError("Resource temporarily unavailable")."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import graphgpo

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux")

PRELUDE = textwrap.dedent("""
    import resource, threading
    import numpy as np
    import graphgpo

    def batch(n):
        rng = np.random.default_rng(0)
        return dict(group=np.repeat(np.arange(n // 100), 100), trajectory=np.repeat(np.arange(n // 10), 10),
                    state=rng.integers(0, 50, n), success=np.repeat(rng.integers(0, 2, n // 10), 10))

    def limit_address_space(headroom):
        used = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status")
                    if line.startswith("VmSize"))
        resource.setrlimit(resource.RLIMIT_AS, (used + headroom, resource.RLIM_INFINITY))

    small = batch(100_000)  # enough rows for 24 threads, few bytes
    expected = graphgpo.graphgpo(**small, num_threads=1)
""")


def run(body: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)], capture_output=True,
                          text=True, timeout=300)


def test_lone_caller_runs_on_the_threads_it_gets():
    done = run("""
        limit_address_space(60 << 20)
        for _ in range(3):
            assert np.array_equal(graphgpo.graphgpo(**small, num_threads=64), expected)
        print("ok")
    """)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_caller_that_finds_the_pool_busy_never_aborts():
    done = run("""
        big = batch(1_000_000)
        graphgpo.graphgpo(**big, num_threads=2)  # the pool now has one worker
        stop = threading.Event()
        def hold_the_pool():
            while not stop.is_set():
                graphgpo.graphgpo(**big, num_threads=2)
        holder = threading.Thread(target=hold_the_pool)
        holder.start()
        limit_address_space(60 << 20)
        try:
            for _ in range(20):  # most of these find the pool busy and start their own threads
                assert np.array_equal(graphgpo.graphgpo(**small, num_threads=64), expected)
        finally:
            stop.set()
            holder.join()
        print("ok")
    """)
    assert done.returncode == 0 and done.stdout.strip() == "ok", (done.returncode, done.stderr[-2000:])


@pytest.mark.parametrize("bad", [1.5, 2.0, "2", True, np.float64(3.0)])
@pytest.mark.parametrize("call", ["advantages", "fingerprint", "build_graphs"])
def test_num_threads_must_be_an_integer(call, bad):
    batch = dict(group=[0, 0], trajectory=[0, 1], state=[1, 2], success=[1, 0])
    with pytest.raises(TypeError, match="num_threads must be an integer"):
        if call == "advantages":
            graphgpo.advantages("graphgpo", **batch, num_threads=bad)
        elif call == "fingerprint":
            graphgpo.fingerprint(["a", "b"], num_threads=bad)
        else:
            graphgpo.build_graphs(**batch, num_threads=bad)


def test_num_threads_accepts_integers_and_none():
    batch = dict(group=[0, 0], trajectory=[0, 1], state=[1, 2], success=[1, 0])
    want = graphgpo.advantages("graphgpo", **batch)
    for ok in (None, 0, 1, 3, np.int64(2), np.uint8(2)):
        np.testing.assert_array_equal(graphgpo.advantages("graphgpo", **batch, num_threads=ok), want)
    with pytest.raises(ValueError, match="num_threads must be >= 0"):
        graphgpo.advantages("graphgpo", **batch, num_threads=-1)
