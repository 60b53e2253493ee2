"""What both peer harnesses share: timing (median of repetitions) and the JSON they print."""
import json
import statistics
import sys
import time


def median_seconds(body, repetitions):
    """Runs `body` once to warm up, then `repetitions` times; the median wall time in seconds."""
    body()
    samples = []
    for _ in range(repetitions):
        start = time.perf_counter()
        body()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def report(peer, version, store, figures):
    """Prints `{peer, version, store, scenarios: {name: {us_per_step, steps}}}` on stdout."""
    json.dump({"peer": peer, "version": version, "store": store, "scenarios": figures}, sys.stdout, indent=2)
    print()


def figure(seconds, steps):
    return {"us_per_step": seconds / steps * 1e6, "steps": steps}
