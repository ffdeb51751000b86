"""The shared peak-memory sampler sees the memory of child processes, not only its own."""

import subprocess
import sys

from bench.report import PeakRss

CHILD = "import time; b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(1.5)"


def test_peak_rss_counts_a_child_process():
    with PeakRss(interval=0.05) as alone:
        pass
    with PeakRss(interval=0.05) as mem:
        subprocess.run([sys.executable, "-c", CHILD], check=True)
    # the child touched 200 MiB; its parent's own RSS is in both figures
    assert mem.peak_mb - alone.peak_mb > 150


def test_peak_rss_of_an_ended_process_is_zero():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert PeakRss(pid=proc.pid).sample() == 0


def test_peak_rss_without_children_leaves_the_child_out():
    with PeakRss(interval=0.05, children=False) as mem:
        subprocess.run([sys.executable, "-c", CHILD], check=True)
    with PeakRss(interval=0.05) as tree:
        subprocess.run([sys.executable, "-c", CHILD], check=True)
    assert tree.peak_mb - mem.peak_mb > 150
