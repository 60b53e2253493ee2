#!/bin/bash
# Remakes state.db and outputs.txt in this folder with the moonflow binary $1 (see README.md).
set -u
M=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
cp -r "$here/project" "$work/project"
cd "$work/project"
r() { echo "+ moonflow $*"; "$M" "$@" > /dev/null 2>> "$work/stderr.log"; echo "  exit $?"; }
r run tour --input '{"name": "Ada"}' --run-id tour-1 --priority high
r run saga --run-id saga-1
r run saga_stuck --run-id stuck-1
r run plain_fail --run-id fail-1
r run slow --run-id slow-1
r run slow_saga --run-id slow-saga-1
r run inbox --input '{}' --run-id inbox-open
r run inbox --input '{"who": "c"}' --run-id inbox-cancel
r run inbox --input '{"who": "t"}' --run-id inbox-term
r run expiring --run-id expiring-1
r run expiring --run-id expiring-cancel
r run breaker --run-id breaker-1
MOONFLOW_FAILPOINTS=during:activity_body:work r run crashy --run-id crashy-body
MOONFLOW_FAILPOINTS=during:compensation_body:work r run crashy --run-id crashy-comp
r runs cancel inbox-cancel
r runs terminate inbox-term
r runs cancel expiring-cancel
r runs resume crashy-body
r runs resume crashy-comp
r runs resume-compensation stuck-1
sleep 1.3
r runs resume tour-1
r runs resume slow-1
r runs resume slow-saga-1
r runs resume expiring-1
r tasks complete tour-1:approve:1 --data '{"ok": true}' --user alice
sleep 1
r runs resume expiring-1
sleep 2.2
r runs resume expiring-1
# The compensation is fixed, and the run re-pinned to the fixed definition.
sed -i 's/      run: error({type = "Stuck", message = "cannot release"})/      run: return {released = true}/' workflows/saga_stuck.yaml
r runs resume-compensation stuck-1 --latest
r run child --input '{"x": 1}' --run-id child-solo
"$here/capture.sh" "$M" .moonflow/state.db > "$here/outputs.txt"
test ! -e .moonflow/state.db-wal && cp .moonflow/state.db "$here/state.db"
rm -rf "$work"
