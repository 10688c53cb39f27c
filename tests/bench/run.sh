#!/usr/bin/env bash
# make bench: measurements on this machine, loopback only, every loop bounded.
#   cps.sh      call rate: direct SIPp, Kamailio and scvbridge side by side (chart + table)
#   backlog.sh  start-up with a large backlog in the store
#   soak.sh     kill/restart soak: records lost or duplicated
# BENCH_QUICK=1: a ~3-minute version (short ramp steps, 20,000-operation backlog, 8 soak cycles).
# Results (Markdown, data, PNG) go to tests/bench/results/ (not committed). The last line printed
# is the call-rate summary, "bench: bridge_cps=N ...".
set -u
cd "$(dirname "$0")/../.."
export BUILD_DIR=${BUILD_DIR:-build}
out=tests/bench/results
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
report=$out/bench-$stamp.md
quick=""
[ -n "${BENCH_QUICK:-}" ] && [ "$BENCH_QUICK" != 0 ] && quick=1
export BENCH_QUICK=$quick BENCH_OUT=$out BENCH_STAMP=$stamp
summary=$(mktemp /tmp/scvb-bench.XXXXXX)
trap 'rm -f "$summary"' EXIT
{
	echo "# scvbridge bench, $stamp"
	echo
	echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)$([ -n "$quick" ] && echo "; quick mode (BENCH_QUICK=1)")"
	echo
	echo "## Call rate"
	echo
	bash tests/bench/cps.sh | tee "$summary" # progress (stderr) on the terminal only
	echo
	echo "## Start-up with a backlog"
	echo
	BACKLOG_OPS=${BACKLOG_OPS:-$([ -n "$quick" ] && echo 20000 || echo 100000)} \
		DRAIN_S=${DRAIN_S:-$([ -n "$quick" ] && echo 5 || echo 10)} \
		DRAIN_MS=${DRAIN_MS:-$([ -n "$quick" ] && echo 2000 || echo 10000)} bash tests/bench/backlog.sh 2>&1
	echo
	echo "## Kill/restart soak"
	echo
	SOAK_CYCLES=${SOAK_CYCLES:-$([ -n "$quick" ] && echo 8 || echo 30)} bash tests/bench/soak.sh 2>&1
} | grep -v '^bench: ' | tee "$report"
echo "report: $report"
line=$(grep '^bench: ' "$summary" | tail -1)
if [ -z "$line" ]; then
	echo "bench: call-rate bench failed (no summary); see $report"
	exit 1
fi
echo "$line" >>"$report"
echo "$line"
