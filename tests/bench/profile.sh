#!/usr/bin/env bash
# Where the bridge spends its time at a given call rate: the bench's caller -> scvbridge ->
# answerer traffic (emulator as Salesforce) at RATE calls/s for SECONDS, and in the middle of it
#   - CPU per thread of the daemon (loop thread = the PID, the sofia-sip thread, others);
#   - `perf record -g` (cpu-clock) of the daemon, or the daemon run under
#     `valgrind --tool=callgrind` (PROFILER=callgrind; far slower: use a low RATE);
#   - fsync/fdatasync/pwrite/sendmsg counts (perf stat on syscall tracepoints, when available).
# Not part of `make bench`. Usage:
#   BUILD_DIR=build tests/bench/profile.sh [RATE] [SECONDS]      (default 1600 cps, 20 s)
# Output: tests/bench/results/profile-STAMP.txt (+ perf.data / callgrind.out beside it).
set -u
. "$(dirname "$0")/../lib.sh"
T_SUITE=bench-profile
RATE=${1:-1600}
SECS=${2:-20}
PROFILER=${PROFILER:-perf}
OUT=${BENCH_OUT:-$SCVB_ROOT/tests/bench/results}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
REPORT=$OUT/profile-$STAMP.txt
mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null
setup_env
CALLER_CP=$((SIP_PORT + 8))
AGENT_CP=$((SIP_PORT + 7))
make_certs || exit 1
start_emulator || exit 1
DRAIN_MS=30000 write_config "$T_DIR/scvbridge.json" "sip:7000@127.0.0.1:$AGENT_PORT" ', "max_creates_per_s": 1000'
if [ "$PROFILER" = callgrind ]; then
	# start_daemon with valgrind in front (its PID is valgrind's, which is the daemon's)
	DAEMON_REAL=$DAEMON
	DAEMON=$T_DIR/daemon-under-callgrind
	printf '#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=%s --dump-instr=no %s "$@"\n' \
		"$OUT/callgrind.out.$STAMP" "$DAEMON_REAL" >"$DAEMON"
	chmod +x "$DAEMON"
fi
start_daemon "$T_DIR/scvbridge.json" || exit 1
sipp -sf "$SIPP_DIR/bench_uas.xml" -i 127.0.0.1 -mi 127.0.0.1 -p "$AGENT_PORT" -t u1 -buff_size 4194304 -cp "$AGENT_CP" \
	-ci 127.0.0.1 -nostdin -recv_timeout 30000 -timeout $((SECS + 120))s >/dev/null 2>&1 </dev/null &
AGENT=$!
T_PIDS+=("$AGENT")
sleep 0.5

# threads: "tid ticks" for each daemon thread, then "name ticks" for the other processes
threads() {
	local t
	for t in /proc/"$DAEMON_PID"/task/*; do
		echo "$(cat "$t/comm" 2>/dev/null)/$(basename "$t") $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null)"
	done
	echo "emulator $(awk '{print $14 + $15}' /proc/"$EMU_PID"/stat)"
	echo "sipp-answerer $(awk '{print $14 + $15}' /proc/"$AGENT"/stat)"
	echo "sipp-caller $(awk '{print $14 + $15}' /proc/"$(pgrep -P "$CALLER")"/stat)"
}

printf 'SEQUENTIAL\n+15550100000;\n' >"$T_DIR/numbers.csv"
timeout $((SECS + 60)) sipp "127.0.0.1:$SIP_PORT" -sf "$SIPP_DIR/bench_uac.xml" -inf "$T_DIR/numbers.csv" \
	-i 127.0.0.1 -mi 127.0.0.1 -p "$CALLER_PORT" -t u1 -buff_size 4194304 -cp "$CALLER_CP" -ci 127.0.0.1 \
	-set caller +15550199999 -set ivr en-US -set bid b1 -nostdin -r "$RATE" -m $((RATE * SECS)) \
	-l $((RATE > 200 ? RATE : 200)) -d 100 -timeout $((SECS + 50))s -recv_timeout 10000 \
	-trace_stat -stf "$T_DIR/caller.csv" -fd 1 >/dev/null 2>&1 </dev/null &
CALLER=$!
T_PIDS+=("$CALLER")
WIN=$((SECS / 2))
sleep $((SECS / 4))
threads >"$T_DIR/threads0"
t0=$(date +%s%N)
if [ "$PROFILER" = perf ]; then
	perf record -e cpu-clock -F 999 -g -p "$DAEMON_PID" -o "$OUT/perf-$STAMP.data" -- sleep "$WIN" \
		>"$T_DIR/perf.log" 2>&1
	perf stat -e 'syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync,syscalls:sys_enter_pwrite64,syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendto,syscalls:sys_enter_recvmsg,syscalls:sys_enter_recvfrom,syscalls:sys_enter_write,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_poll' \
		-p "$DAEMON_PID" -- sleep 2 >"$T_DIR/perfstat.log" 2>&1
else
	sleep "$WIN"
fi
t1=$(date +%s%N)
threads >"$T_DIR/threads1"
wait "$CALLER"
rc=$?
# let the outbox finish, then stop the daemon (callgrind writes its profile on exit)
drained() { emu GET /emulator/stats | jq -e '.creates == .updates and .creates > 0' >/dev/null; }
wait_for 1 60 drained
stop_daemon

{
	echo "profile of scvbridge at $RATE cps for $SECS s ($PROFILER), $STAMP; $(nproc) cores, $(uname -r)"
	echo "caller exit $rc; last statistics: $(tail -1 "$T_DIR/caller.csv" | awk -F';' '{print "created " $13 ", ok " $16 ", failed " $18 ", retrans " $58}')"
	echo
	echo "CPU over the middle $(((t1 - t0) / 1000000)) ms, % of one core: the daemon's threads (name/TID:"
	echo "scvbridge = the libuv loop, scvb-sip = sofia-sip, scvb-store = the store's writer), then the"
	echo "other processes"
	join <(sort "$T_DIR/threads0") <(sort "$T_DIR/threads1") | awk -v ms=$(((t1 - t0) / 1000000)) -v hz="$(getconf CLK_TCK)" -v pid="$DAEMON_PID" \
		'{printf "  %s: %.0f%%\n", $1, ($3 - $2) * 100000 / hz / ms}'
	if [ "$PROFILER" = perf ]; then
		echo
		echo "samples per thread:"
		perf report -i "$OUT/perf-$STAMP.data" --no-children --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -8
		echo
		echo "top symbols (self), all threads:"
		perf report -i "$OUT/perf-$STAMP.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -40
		echo
		echo "top symbols per thread (self):"
		perf report -i "$OUT/perf-$STAMP.data" --no-children --sort comm,dso,sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -40
		echo
		echo "inclusive (children), top 40:"
		perf report -i "$OUT/perf-$STAMP.data" --children --sort sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -40
		echo
		echo "system calls in 2 s:"
		grep -E 'syscalls:' "$T_DIR/perfstat.log"
	else
		echo
		callgrind_annotate "$OUT/callgrind.out.$STAMP" 2>/dev/null | head -60
	fi
} >"$REPORT"
cat "$REPORT"
echo "profile: $REPORT"
