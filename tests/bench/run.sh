#!/usr/bin/env bash
# make bench: measurements on this machine, loopback only, every loop bounded.
# Results (Markdown) go to tests/bench/results/ (not committed).
set -u
cd "$(dirname "$0")/../.."
export BUILD_DIR=${BUILD_DIR:-build}
out=tests/bench/results
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
report=$out/bench-$stamp.md
{
	echo "# scvbridge bench, $stamp"
	echo
	echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
	echo
	echo "## Start-up with a backlog"
	echo
	BACKLOG_OPS=${BACKLOG_OPS:-100000} bash tests/bench/backlog.sh 2>&1
	echo
	echo "## Kill/restart soak"
	echo
	SOAK_CYCLES=${SOAK_CYCLES:-$([ -n "${BENCH_QUICK:-}" ] && echo 8 || echo 30)} bash tests/bench/soak.sh 2>&1
} | tee "$report"
echo "report: $report"
