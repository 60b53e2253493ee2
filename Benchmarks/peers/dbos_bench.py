"""seq40, par10 and runs3 on DBOS Transact (durable Python workflows) with its SQLite system
database, settings as DBOS leaves them: every step's result is checkpointed before the next runs."""
import argparse
import asyncio
import logging
import os
import tempfile
from importlib.metadata import version

from dbos import DBOS

from common import figure, median_seconds, report


@DBOS.step()
def increment(n: int) -> int:
    return n + 1


@DBOS.workflow()
def sequence(steps: int) -> int:
    n = 0
    for _ in range(steps):
        n = increment(n)
    return n


@DBOS.step()
async def one() -> int:
    return 1


@DBOS.step()
async def join(outputs: list) -> int:
    return sum(outputs)


@DBOS.workflow()
async def parallel(width: int) -> int:
    outputs = await asyncio.gather(*[one() for _ in range(width)])
    return await join(list(outputs))


def check(name, value, expected):
    if value != expected:
        raise SystemExit(f"{name}: expected {expected}, got {value}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--runs", type=int, default=100, help="runs of runs3 (DBOS is slow: fewer than Moonflow's 1,000)")
    args = parser.parse_args()

    logging.getLogger("dbos").setLevel(logging.WARNING)
    directory = tempfile.mkdtemp(prefix="moonflow-peers-dbos-")
    DBOS(config={"name": "moonflow-peers", "system_database_url": f"sqlite:///{os.path.join(directory, 'dbos.sqlite')}"})
    DBOS.launch()
    try:
        figures = {
            "seq40": figure(median_seconds(lambda: check("seq40", sequence(40), 40), args.repetitions), 40),
            "par10": figure(median_seconds(lambda: check("par10", asyncio.run(parallel(10)), 10), args.repetitions), 11),
            "runs3": figure(
                median_seconds(lambda: [check("runs3", sequence(3), 3) for _ in range(args.runs)], args.repetitions), 3 * args.runs),
        }
    finally:
        DBOS.destroy()
    report("DBOS", version("dbos"), "sqlite", figures)


if __name__ == "__main__":
    main()
