"""seq40, par10 and runs3 on SpiffWorkflow (pure-Python BPMN, in memory): the workflows Moonflow's
`moonflow bench` generates, as BPMN processes with Python script tasks."""
import argparse
from importlib.metadata import version

from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from common import figure, median_seconds, report

HEADER = ('<?xml version="1.0" encoding="UTF-8"?>'
          '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" '
          'targetNamespace="http://moonflow.dev/peers">')


def script(task_id, code):
    return f'<bpmn:scriptTask id="{task_id}"><bpmn:script>{code}</bpmn:script></bpmn:scriptTask>'


def flows(pairs):
    return "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>' for i, (a, b) in enumerate(pairs))


def process(process_id, body):
    return f'{HEADER}<bpmn:process id="{process_id}" isExecutable="true">{body}</bpmn:process></bpmn:definitions>'


def sequence(process_id, steps):
    """`steps` script tasks in a row, each `n = n + 1` (Moonflow: `workflow.n = workflow.n + 1`)."""
    ids = ["start"] + [f"s{i}" for i in range(steps)] + ["end"]
    tasks = "".join(script(f"s{i}", "n = n + 1") for i in range(steps))
    return process(process_id, f'<bpmn:startEvent id="start"/>{tasks}<bpmn:endEvent id="end"/>' + flows(zip(ids, ids[1:])))


def parallel(process_id, width):
    """A parallel gateway to `width` script tasks `pN = 1`, a join, then a task summing them."""
    branches = [f"p{i}" for i in range(width)]
    tasks = "".join(script(b, f"{b} = 1") for b in branches)
    total = " + ".join(branches)
    body = ('<bpmn:startEvent id="start"/><bpmn:parallelGateway id="fork"/><bpmn:parallelGateway id="merge"/>'
            f'{tasks}{script("join", f"out = {total}")}<bpmn:endEvent id="end"/>')
    pairs = [("start", "fork")] + [("fork", b) for b in branches] + [(b, "merge") for b in branches]
    pairs += [("merge", "join"), ("join", "end")]
    return process(process_id, body + flows(pairs))


def spec_of(process_id, xml):
    parser = BpmnParser()
    parser.add_bpmn_str(xml.encode())
    return parser.get_spec(process_id)


def run(spec, data, key, expected):
    workflow = BpmnWorkflow(spec)
    workflow.get_tasks()[0].data.update(data)
    workflow.do_engine_steps()
    if not workflow.is_completed() or workflow.data.get(key) != expected:
        raise SystemExit(f"{spec.name}: expected {key} = {expected}, got {workflow.data}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--runs", type=int, default=1000, help="runs of runs3")
    args = parser.parse_args()

    seq40, par10, runs3 = spec_of("seq40", sequence("seq40", 40)), spec_of("par10", parallel("par10", 10)), spec_of("runs3", sequence("runs3", 3))
    figures = {
        "seq40": figure(median_seconds(lambda: run(seq40, {"n": 0}, "n", 40), args.repetitions), 40),
        "par10": figure(median_seconds(lambda: run(par10, {}, "out", 10), args.repetitions), 11),
        "runs3": figure(
            median_seconds(lambda: [run(runs3, {"n": 0}, "n", 3) for _ in range(args.runs)], args.repetitions), 3 * args.runs),
    }
    report("SpiffWorkflow", version("SpiffWorkflow"), "memory", figures)


if __name__ == "__main__":
    main()
