"""Fingerprinting a list of str/bytes releases the GIL while it hashes: another Python thread keeps running,
and the result is the same as with the GIL held (the list is snapshotted, so changing it meanwhile is safe)."""

import threading
import time

import numpy as np

import graphgpo


def _ticks_during(call):
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.0005)

    thread = threading.Thread(target=ticker)
    thread.start()
    time.sleep(0.02)
    start = time.perf_counter()
    result = call()
    end = time.perf_counter()
    stop.set()
    thread.join()
    # Ignore the first few ms: the ticker may still hold the GIL when the call starts.
    return result, sum(start + 0.01 < t < end for t in ticks), end - start


def test_hashing_a_list_of_strings_lets_other_threads_run():
    big = ["x" * (1 << 20) + str(k) for k in range(8)] + [b"y" * (1 << 20)]
    states = big * 120  # ~1 GB of text to hash, little memory: the same objects repeated
    expected = np.concatenate([graphgpo.fingerprint(big)] * 120)
    for _ in range(3):  # a loaded machine may be slow to schedule the ticker: take the best of three
        result, ticks, seconds = _ticks_during(lambda: graphgpo.fingerprint(states))
        np.testing.assert_array_equal(result, expected)
        if ticks >= 5:
            break
    assert seconds > 0.05, seconds  # long enough for the ticker to have run
    assert ticks >= 5, (ticks, seconds)


def test_a_list_changed_by_another_thread_while_hashing_is_safe():
    states = ["s" * 4096 + str(k) for k in range(20000)]
    expected = graphgpo.fingerprint(list(states))
    stop = threading.Event()

    def mutate():  # replaces items by equal new objects: the old ones are freed unless someone holds them
        k = 0
        while not stop.is_set():
            k = (k + 7919) % len(states)
            states[k] = "s" * 4096 + str(k)

    thread = threading.Thread(target=mutate)
    thread.start()
    try:
        for _ in range(5):
            np.testing.assert_array_equal(graphgpo.fingerprint(states), expected)
    finally:
        stop.set()
        thread.join()
