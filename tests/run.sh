#!/usr/bin/env bash
# Runs the test suites and prints one closing line: "N passed, N failed".
#   tests/run.sh            unit tests, then integration tests
#   tests/run.sh unit       unit tests only
#   tests/run.sh integration
# Each suite prints "PASS name" / "FAIL name: why" lines; a suite that exits non-zero
# without a FAIL line (a crash, a sanitizer report) counts as one failure.
set -u
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
export BUILD_DIR
what=${1:-all}
passed=0
failed=0
log=$(mktemp /tmp/scvb-run.XXXXXX)
trap 'rm -f "$log"' EXIT

# UBSan must stop the test, and ASan must report leaks (the default on Linux).
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}

run_suite() {
	local name=$1
	shift
	local t0=$SECONDS rc p f
	"$@" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^PASS ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	grep -E '^(FAIL |     also:)' "$log"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited with status $rc and no failed check; its output ends:"
		tail -25 "$log" | sed 's/^/    /'
		f=1
	elif [ "$f" -gt 0 ]; then
		# context for the failures: the suite's own diagnostics
		grep -vE '^(PASS |FAIL |     also:)' "$log" | tail -15 | sed 's/^/    /'
	fi
	echo "suite $name: $p passed, $f failed ($((SECONDS - t0)) s)"
	passed=$((passed + p))
	failed=$((failed + f))
}

if [ "$what" = all ] || [ "$what" = unit ]; then
	for t in $(find "$BUILD_DIR/tests/unit" -type f -executable 2>/dev/null | sort); do
		run_suite "unit/${t#"$BUILD_DIR"/tests/unit/}" "$t"
	done
fi

if [ "$what" = all ] || [ "$what" = integration ]; then
	for t in tests/integration/*_test.sh; do
		run_suite "integration/$(basename "$t" .sh)" bash "$t"
	done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
