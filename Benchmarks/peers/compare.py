"""Reads the JSON of `moonflow bench` (memory and SQLite) and of the peer harnesses from a folder
of rounds, and prints per scenario the median µs per step of each, and how many times faster
Moonflow is than each peer (in memory against SpiffWorkflow, on SQLite against DBOS)."""
import json
import pathlib
import statistics
import sys

SCENARIOS = ["seq40", "par10", "runs3"]
TARGET = 10.0


def moonflow_figures(path):
    """The first figure `moonflow bench` reports for each scenario: the whole run's µs per step."""
    figures = {}
    for entry in json.loads(path.read_text())["scenarios"]:
        if entry["scenario"] in SCENARIOS and entry["scenario"] not in figures and "us_per_step" in entry:
            figures[entry["scenario"]] = entry["us_per_step"]
    return figures


def peer_figures(path):
    return {name: figure["us_per_step"] for name, figure in json.loads(path.read_text())["scenarios"].items()}


def medians(folder, pattern, read):
    rounds = [read(path) for path in sorted(folder.glob(pattern))]
    if not rounds:
        raise SystemExit(f"no {pattern} in {folder}")
    return {name: statistics.median(r[name] for r in rounds) for name in SCENARIOS}, len(rounds)


def main():
    folder = pathlib.Path(sys.argv[1])
    pairs = [
        ("memory", "moonflow-memory-*.json", "SpiffWorkflow", "spiff-*.json"),
        ("SQLite", "moonflow-sqlite-*.json", "DBOS", "dbos-*.json"),
    ]
    print(f"| store | scenario | Moonflow µs/step | peer | peer µs/step | Moonflow faster by | target ≥ {TARGET:g}× |")
    print("|---|---|---|---|---|---|---|")
    met = True
    for store, ours, peer, theirs in pairs:
        moonflow, rounds = medians(folder, ours, moonflow_figures)
        other, _ = medians(folder, theirs, peer_figures)
        for name in SCENARIOS:
            ratio = other[name] / moonflow[name]
            met = met and ratio >= TARGET
            verdict = "met" if ratio >= TARGET else "not met"
            print(f"| {store} | {name} | {moonflow[name]:,.1f} | {peer} | {other[name]:,.1f} | {ratio:.1f}× | {verdict} |")
    print(f"\nmedian of {rounds} round(s), peers and Moonflow alternated in each")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
