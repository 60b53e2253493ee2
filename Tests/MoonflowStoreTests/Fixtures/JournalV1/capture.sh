#!/bin/bash
# Prints what the moonflow binary $1 answers about the store $2: each command as a "$ moonflow …"
# line, then its standard output and its exit status.
M=$1; S=$2
c() { echo "\$ moonflow $*"; "$M" "$@" --store "$S" 2>/dev/null; echo "[exit $?]"; }
c runs list
c runs list --format json
for status in open completed expired cancelled; do c tasks list --status $status --format json; done
for id in $("$M" runs list --format json --store "$S" | python3 -c 'import json,sys; print(" ".join(r["run_id"] for r in json.load(sys.stdin)))'); do
  c runs show "$id"
  c runs show "$id" --format json
  c runs history "$id"
  c runs history "$id" --format json
done
