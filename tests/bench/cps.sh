#!/usr/bin/env bash
# make bench, call rate: the highest call rate each path sustains with no failed call, on this
# machine, side by side:
#   direct    SIPp caller -> SIPp answerer (the load generator's own ceiling)
#   kamailio  caller -> Kamailio (stateful proxy, tests/bench/kamailio.cfg) -> the same answerer
#   bridge    caller -> scvbridge -> the same answerer, the emulator as Salesforce: every call
#             creates and closes its VoiceCall through the durable outbox; the calls are spread
#             over BENCH_CCS (8) contact centers, as a vendor serving several orgs would see
# For each path, a ramp: short probe steps on a doubling ladder up to the first failing step,
# then steps held HOLD_S seconds (20; BENCH_QUICK: 8) bisecting between the last clean probe and
# the first failing one. The figure is the highest clean held step. At that rate: post-dial delay
# added (INVITE in -> INVITE out, from a capture on lo), INVITE -> VoiceCall accepted (emulator
# createdAt - the create's startTime), CPU seconds per 1,000 calls. Then a run that holds
# thousands of calls up at once gives the bridge's RSS per concurrent call; last, every call the
# answerer saw must have exactly one closed VoiceCall (lost, dup).
#
# Writes tests/bench/results/cps-STAMP.{md,tsv,png} (BENCH_OUT, BENCH_STAMP override), prints
# the Markdown report and, as its last line:
#   bench: bridge_cps=N direct_cps=N kamailio_cps=N bridge_vs_kamailio=R p99_added_pdd_ms=X ...
# Loopback only, every loop bounded in count and time, every process stopped on exit (by PID).
set -u
. "$(dirname "$0")/../lib.sh"
T_SUITE=bench-cps
BENCH_DIR=$SCVB_ROOT/tests/bench
OUT=${BENCH_OUT:-$BENCH_DIR/results}
STAMP=${BENCH_STAMP:-$(date -u +%Y%m%dT%H%M%SZ)}
CCS=${BENCH_CCS:-8}          # contact centers (orgs) the bridge serves; calls spread over them

if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then
	QUICK=1
	PROBE_S=${PROBE_S:-2}     # each probe step
	HOLD_S=${HOLD_S:-8}       # each held step
	HOLDS=${HOLDS:-1}         # held steps that bisect upwards
	HOLD_CALLS=${HOLD_CALLS:-2000}
	DRAIN_MAX_S=${DRAIN_MAX_S:-20}
else
	QUICK=0
	PROBE_S=${PROBE_S:-4}
	HOLD_S=${HOLD_S:-20}
	HOLDS=${HOLDS:-3}
	HOLD_CALLS=${HOLD_CALLS:-5000}
	DRAIN_MAX_S=${DRAIN_MAX_S:-45}
fi
if [ "$QUICK" = 1 ]; then LADDER=${LADDER:-"50 200 800 1600 3200 6400 12800 25600"}
else LADDER=${LADDER:-"50 100 200 400 800 1600 3200 6400 12800 25600"}; fi
CALL_MS=${CALL_MS:-100}       # caller's talk time; the answerer rings 100 ms before answering
HOLD_CPS=${HOLD_CPS:-500}     # set-up rate of the concurrency run
MAX_S=${MAX_S:-1500}          # hard bound for the whole script (answerer's global timeout)
PATHS=${BENCH_PATHS:-"direct kamailio bridge"} # a subset, to look at one path
want() { case " $PATHS " in *" $1 "*) return 0 ;; esac; return 1; }

for tool in sipp kamailio dumpcap tshark gnuplot jq curl ss; do
	command -v "$tool" >/dev/null || { echo "cps: $tool not found (make bench-deps)" >&2; exit 1; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# The load generator's UDP buffers (SIPp's default is 64 KiB): large, so that SIPp does not drop
# a burst itself; the kernel caps it at net.core.rmem_max / wmem_max. The paths under test keep
# their own settings.
SIPP_BUF=${SIPP_BUF:-4194304}
# The paths under test get the same UDP socket buffer: 4 MiB (scvbridge's default) or the
# kernel's limit if lower (Kamailio probes up to it without privilege; scvbridge would get more
# as root, so it is asked for no more).
RMEM_MAX=$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo 212992)
PATH_BUF=$((RMEM_MAX < 4194304 ? RMEM_MAX : 4194304))

setup_env
KAM_PORT=$((SIP_PORT + 6)) # lib.sh takes base + 0..5
AGENT_CP=$((SIP_PORT + 7))  # SIPp control sockets, bound to 127.0.0.1 (-ci)
CALLER_CP=$((SIP_PORT + 8))
KAM_PID=""
KAM_KIDS=""
CAP_PID=""
CALLER_PID=""
AGENT_PID=""
STEPS=$T_DIR/steps.tsv       # one line per step, filled as the ramps go
: >"$STEPS"
NOTES=$T_DIR/notes.txt
: >"$NOTES"
STEP_NO=0
T_START=$SECONDS

bench_cleanup() {
	local p
	# polite first (Kamailio stops its children on TERM; dumpcap flushes), then lib's KILL
	local sipps=""
	[ -n "$CALLER_PID" ] && sipps=$(pgrep -P "$CALLER_PID" | tr '\n' ' ')
	for p in $CALLER_PID $sipps $CAP_PID $KAM_PID $AGENT_PID; do kill -TERM "$p" 2>/dev/null; done
	for p in $(seq 1 30); do
		kill -0 $KAM_PID $CAP_PID 2>/dev/null || break
		sleep 0.1
	done
	for p in $CALLER_PID $sipps $CAP_PID $KAM_PID $KAM_KIDS $AGENT_PID; do kill -KILL "$p" 2>/dev/null; done
	cleanup
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

note() { echo "$*" >>"$NOTES"; }
# rcvbuf PORT: the receive buffer of the UDP socket on PORT (ss's rb), or "?"
rcvbuf() {
	local rb
	rb=$(udp_skmem "$1" rb)
	echo "${rb:-?}"
}
now_ns() { date +%s%N; }
# cpu_ticks PID...: utime + stime of the processes, in clock ticks
cpu_ticks() {
	local p s=0 t
	for p in "$@"; do
		t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) || t=0
		s=$((s + ${t:-0}))
	done
	echo "$s"
}
HZ=$(getconf CLK_TCK)
rss_kib() { awk -v k="${2:-VmRSS}:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null; }
# rnd X: a round step rate near X
rnd() {
	local x=$1
	if [ "$x" -ge 1000 ]; then echo $(((x + 50) / 100 * 100))
	elif [ "$x" -ge 200 ]; then echo $(((x + 25) / 50 * 50))
	else echo $(((x + 5) / 10 * 10)); fi
}
# wait_port PORT: bounded wait until something listens on 127.0.0.1:PORT (UDP)
wait_port() {
	local i
	for i in $(seq 1 100); do
		ss -H -lnu "sport = :$1" | grep -q . && return 0
		sleep 0.05
	done
	return 1
}
# loopback_only NAME PID...: every listening socket of these processes is on 127.0.0.1 or ::1
loopback_only() {
	local name=$1 bad
	shift
	local re
	re=$(printf 'pid=%s,|' "$@")
	bad=$(ss -H -lntup | grep -E "${re%|}" | awk '$5 !~ /^(127\.|\[::1\]|::1)/')
	if [ -n "$bad" ]; then
		note "NOT loopback-only: $name listens on: $(echo "$bad" | awk '{print $5}' | tr '\n' ' ')"
		echo "cps: $name listens beyond loopback:" >&2
		echo "$bad" >&2
		return 1
	fi
	grep -q "^loopback only: $name " "$NOTES" || note "loopback only: $name (PID $(echo "$@"))"
}

# forget PID...: processes that are gone, out of lib.sh's cleanup list (no stale PID is killed)
forget() {
	local p q keep=()
	for p in "${T_PIDS[@]}"; do
		for q in "$@"; do [ "$p" = "$q" ] && continue 2; done
		keep+=("$p")
	done
	T_PIDS=("${keep[@]}")
}

# The answerer; each start logs to a file of its own (agent-N.log): agent_log prints them all.
AGENT_N=0
agent_log() { cat "$T_DIR"/agent-*.log 2>/dev/null; }
start_agent() {
	AGENT_N=$((AGENT_N + 1))
	sipp -sf "$SIPP_DIR/bench_uas.xml" -i 127.0.0.1 -mi 127.0.0.1 -p "$AGENT_PORT" -t u1 \
		-buff_size "$SIPP_BUF" -cp "$AGENT_CP" -ci 127.0.0.1 -nostdin -trace_logs \
		-log_file "$T_DIR/agent-$AGENT_N.log" \
		-recv_timeout 30000 -timeout "${MAX_S}s" >/dev/null 2>&1 </dev/null &
	AGENT_PID=$!
	T_PIDS+=("$AGENT_PID")
	wait_port "$AGENT_PORT" || { echo "cps: answerer did not start" >&2; return 1; }
	loopback_only answerer "$AGENT_PID"
}

start_kamailio() {
	mkdir -p "$T_DIR/kam"
	kamailio -f "$BENCH_DIR/kamailio.cfg" -DD -E -m "${KAM_SHM_MB:-1024}" -M "${KAM_PKG_MB:-16}" \
		-Y "$T_DIR/kam" -w "$T_DIR/kam" -A "BENCH_PORT=$KAM_PORT" \
		-A "BENCH_TARGET=\"sip:127.0.0.1:$AGENT_PORT\"" -A "BENCH_CHILDREN=${KAM_CHILDREN:-2}" \
		-A "BENCH_MAXBUFFER=$PATH_BUF" \
		>"$T_DIR/kamailio.log" 2>&1 </dev/null &
	KAM_PID=$!
	T_PIDS+=("$KAM_PID")
	wait_port "$KAM_PORT" || { echo "cps: kamailio did not start:" >&2; tail "$T_DIR/kamailio.log" >&2; return 1; }
	sleep 0.3 # its workers
	KAM_KIDS=$(pgrep -P "$KAM_PID" | tr '\n' ' ')
	loopback_only kamailio "$KAM_PID" $KAM_KIDS
}

stop_kamailio() {
	local i
	kill -TERM "$KAM_PID" 2>/dev/null
	for i in $(seq 1 50); do
		kill -0 "$KAM_PID" $KAM_KIDS 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$KAM_PID" $KAM_KIDS 2>/dev/null
	wait "$KAM_PID" 2>/dev/null
	forget "$KAM_PID"
	KAM_PID=""
	KAM_KIDS=""
}

# start_capture NAME PORT...: INVITE requests (UDP payload starting "INVI") sent to these
# ports, first 400 bytes each (enough for From), in T_DIR/NAME.pcap
start_capture() {
	local name=$1 f="" p
	shift
	for p in "$@"; do f="$f${f:+ or }dst port $p"; done
	dumpcap -i lo -q -s 400 -f "udp and ($f) and udp[8:4] = 0x494e5649" -w "$T_DIR/$name.pcap" \
		>"$T_DIR/$name.dumpcap" 2>&1 </dev/null &
	CAP_PID=$!
	sleep 1
	if ! kill -0 "$CAP_PID" 2>/dev/null; then
		note "no capture for $name (dumpcap: $(tail -1 "$T_DIR/$name.dumpcap")): post-dial delay not measured"
		CAP_PID=""
	fi
}

stop_capture() {
	[ -n "$CAP_PID" ] || return 0
	sleep 0.5
	kill -TERM "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
	CAP_PID=""
}

# emu_counts: "creates updates" the emulator accepted since its last reset
emu_counts() { emu GET /emulator/stats | jq -r '"\(.creates) \(.updates)"' 2>/dev/null; }

# drain EXPECTED MAX_S: wait (bounded) until the emulator has EXPECTED records created and
# every created record closed; prints the seconds it took and returns 0. Returns 1 early when
# every create is in but closing updates stopped coming for 2 s (calls of a failed step still
# up in the bridge, waiting for SIP timers), or when the bound ran out; prints "-" then.
drain() {
	local want=$1 max=$2 t0 i c u last=-1 still=0
	t0=$(now_ns)
	for i in $(seq 1 $((max * 5))); do
		read -r c u < <(emu_counts)
		if [ "${c:-0}" -ge "$want" ] && [ "${c:-0}" = "${u:-x}" ]; then
			echo $((($(now_ns) - t0) / 1000000)) | awk '{printf "%.1f", $1 / 1000}'
			return 0
		fi
		if [ "${c:-0}" -ge "$want" ] && [ "${u:-0}" = "$last" ]; then
			still=$((still + 1))
			[ "$still" -lt 10 ] || break
		else
			still=0
		fi
		last=${u:-0}
		sleep 0.2
	done
	echo "-"
	return 1
}

SINCE_RESET=0 # bridge calls the answerer saw since the emulator's last reset
DUMPS=0
# dump_records: append the emulator's records (key, createdAt, start ms, state, updates,
# repeated creates) to records.tsv, then reset it, so no dump is ever large
dump_records() {
	DUMPS=$((DUMPS + 1))
	curl -sS --max-time 120 --cacert "$PKI/ca.pem" "$EMU_URL/emulator/voiceCalls" | jq -r --arg d "$DUMPS" '.[] | [$d, .vendorCallKey, .createdAt,
		((.create.startTime | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) * 1000
		 + (.create.startTime | capture("\\.(?<ms>[0-9]{3})") | .ms | tonumber)),
		.state, (.updates | length), .duplicateCreates] | @tsv' >>"$T_DIR/records.tsv"
	emu POST /emulator/reset >/dev/null
	SINCE_RESET=0
}

# caller_start BID PORT RATE CALLS LIMIT CALL_MS: the SIPp caller in the background, bounded
# by its own -timeout and by timeout(1); sets CALLER_PID. caller_wait: sets CALL_RC.
caller_start() {
	local bid=$1 port=$2 rate=$3 calls=$4 limit=$5 dur=$6 lim
	lim=$((calls / rate + dur / 1000 + 40))
	rm -f "$T_DIR/$bid.csv" "$T_DIR/$bid.err"
	timeout -k 5 $((lim + 20)) sipp "127.0.0.1:$port" -sf "$SIPP_DIR/bench_uac.xml" -inf "$T_DIR/numbers.csv" \
		-i 127.0.0.1 -mi 127.0.0.1 -p "$CALLER_PORT" -t u1 -buff_size "$SIPP_BUF" -cp "$CALLER_CP" \
		-ci 127.0.0.1 -set caller +15550199999 -set ivr en-US -set bid "$bid" -nostdin \
		-r "$rate" -m "$calls" -l "$limit" -d "$dur" -timeout "${lim}s" -timeout_error \
		-recv_timeout 10000 -trace_stat -stf "$T_DIR/$bid.csv" -fd 1 \
		-trace_err -error_file "$T_DIR/$bid.err" >/dev/null 2>&1 </dev/null &
	CALLER_PID=$!
}
caller_wait() {
	local bid=$1 rate=$2 calls=$3 i sipps
	# A step that fails is over: at its first failed call, at a retransmission storm, or when the
	# caller falls well behind the rate, SIPp is told (SIGUSR1) to place no more calls and to end
	# those in progress, rather than go on overloading for the whole step.
	for i in $(seq 1 7200); do
		kill -0 "$CALLER_PID" 2>/dev/null || break
		ABORTED=$(awk -F';' -v r="$rate" -v m="$calls" 'NR == 1 {for (i = 1; i <= NF; i++) col[$i] = i; next} {last = $0}
			END {if (last == "") {print ""; exit}
			     split(last, v, ";"); na = split(v[col["StartTime"]], a, "\t"); nb = split(v[col["CurrentTime"]], b, "\t")
			     e = b[nb] - a[na]; made = v[col["TotalCallCreated"]] + 0
			     if (v[col["FailedCall(C)"]] + 0 > 0) print "failed calls"
			     else if (v[col["Retransmissions(C)"]] + 0 > m / 100) print "retransmission storm"
			     else if (e >= 1.5 && made < m && made < 0.85 * r * e) print "rate not reached"}' "$T_DIR/$bid.csv" 2>/dev/null)
		if [ -n "$ABORTED" ]; then
			sipps=$(pgrep -P "$CALLER_PID")
			kill -USR1 $sipps 2>/dev/null
			break
		fi
		sleep 0.2
	done
	wait "$CALLER_PID"
	CALL_RC=$?
	CALLER_PID=""
}
caller() {
	ABORTED=""
	caller_start "$@"
	caller_wait "$1" "$3" "$4"
}

# sipp_stat BID FIELD...: fields of the caller's last statistics line, by column name
sipp_stat() {
	local f=$T_DIR/$1.csv
	shift
	[ -s "$f" ] || { echo "$@" | awk '{for (i = 1; i <= NF; i++) printf "0 "; print ""}'; return; }
	awk -F';' -v want="$*" 'NR == 1 {for (i = 1; i <= NF; i++) col[$i] = i; next}
		{last = $0} END {n = split(want, w, " "); split(last, v, ";")
		 for (i = 1; i <= n; i++) printf "%s ", (w[i] in col) ? v[col[w[i]]] + 0 : 0; print ""}' "$f"
}

# sipp_elapsed BID: seconds between the caller's start and its last statistics line (its exit),
# from SIPp's own clock (StartTime and CurrentTime end with the epoch in microseconds)
sipp_elapsed() {
	awk -F';' 'NR == 1 {for (i = 1; i <= NF; i++) col[$i] = i; next} {last = $0}
		END {split(last, v, ";"); n = split(v[col["StartTime"]], a, "\t"); m = split(v[col["CurrentTime"]], b, "\t")
		     printf "%.3f\n", (n && m) ? b[m] - a[n] : 0}' "$T_DIR/$1.csv" 2>/dev/null || echo 0
}

# settle PID...: wait (bounded, 15 s) until these processes are quiet (at most 2 clock ticks of
# CPU in 0.3 s), so that a step does not start on the leftovers of the one before
settle() {
	local i a b
	for i in $(seq 1 50); do
		a=$(cpu_ticks "$@")
		sleep 0.3
		b=$(cpu_ticks "$@")
		[ $((b - a)) -le 2 ] && return 0
	done
	return 1
}

# restart_bridge: stop the daemon, keep its peak RSS, start it again on the same store. SIGTERM
# first; after an overloaded step its shutdown would wait for BYEs to callers long gone, so
# after 3 s SIGKILL: the store makes that safe (the next daemon sends what was queued and
# closes the calls that were cut; soak.sh checks exactly that), and the records are counted.
HWM1=0
RESTARTS=""
restart_bridge() {
	local h t0=$SECONDS how=term
	h=$(rss_kib "$DAEMON_PID" VmHWM)
	[ "${h:-0}" -gt "$HWM1" ] && HWM1=$h
	stop_daemon 30
	[ "$DAEMON_RC" = 137 ] && how=kill
	forget "$DAEMON_PID"
	start_daemon "$CONFIG" || exit 1
	RESTARTS="$RESTARTS${RESTARTS:+, }$((SECONDS - t0)) s ($how)"
}

# restart_path PATH: fresh answerer, and fresh Kamailio or scvbridge
restart_path() {
	local i
	kill -TERM "$AGENT_PID" 2>/dev/null
	for i in $(seq 1 20); do
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	forget "$AGENT_PID"
	start_agent || exit 1
	case $1 in
	kamailio) stop_kamailio && start_kamailio || exit 1 ;;
	bridge) restart_bridge ;;
	esac
}

# step PATH KIND RATE SECONDS: one step of a ramp; appends a line to STEPS; returns 0 if clean
step() {
	local path=$1 kind=$2 rate=$3 secs=$4 port bid calls wall ok failed retr ooc dead
	local achieved verdict why cpu0 cpu1 ecpu0 ecpu1 cpu ecpu dr="-" seen err pids="" rss="-"
	STEP_NO=$((STEP_NO + 1))
	bid=b$STEP_NO
	calls=$((rate * secs))
	if [ "$kind" = hold ]; then
		# Each held step starts on fresh processes (answerer, and Kamailio or scvbridge): after
		# an overloaded probe they hold calls and transactions still retransmitting or timing
		# out (sofia-sip frees a call's transactions 32 s after it ends), and a step would pay
		# for the steps before it (see README.md).
		restart_path "$path"
	fi
	case $path in
	direct) port=$AGENT_PORT ;;
	kamailio) port=$KAM_PORT pids="$KAM_PID $KAM_KIDS" ;;
	bridge) port=$SIP_PORT pids=$DAEMON_PID ;;
	esac
	cpu0=$(cpu_ticks $pids)
	ecpu0=$(cpu_ticks "$EMU_PID")
	caller "$bid" "$port" "$rate" "$calls" $((rate > 200 ? rate : 200)) "$CALL_MS"
	read -r ok failed retr ooc dead < <(sipp_stat "$bid" 'SuccessfulCall(C)' 'FailedCall(C)' \
		'Retransmissions(C)' 'OutOfCallMsgs(C)' 'DeadCallMsgs(C)')
	# offered rate actually reached: calls over the caller's run, less the last call's length
	# (100 ms ringing, the talk time, ~20 ms of messages)
	wall=$(sipp_elapsed "$bid")
	achieved=$(awk -v n="$ok" -v w="$wall" -v d="$CALL_MS" \
		'BEGIN {t = w - (d + 120) / 1000; if (t < 0.001) t = 0.001; printf "%.0f", (n > 1 ? n - 1 : 0) / t}')
	verdict=clean
	why=""
	if [ "$failed" -gt 0 ]; then why="$failed failed"
	elif [ "$ok" -ne "$calls" ]; then why="$ok/$calls completed (sipp exit $CALL_RC)"
	elif [ "$retr" -gt $((calls / 100)) ]; then why="retransmission storm ($retr)"
	elif [ "$achieved" -lt $((rate * 95 / 100)) ]; then why="rate not reached ($achieved cps)"
	elif [ "$CALL_RC" -ne 0 ]; then why="sipp exit $CALL_RC"
	fi
	[ -n "$ABORTED" ] && [ -z "$why" ] && why="stopped: $ABORTED"
	[ -n "$ABORTED" ] && [ -n "$why" ] && why="$why, stopped: $ABORTED"
	if [ -n "$why" ]; then
		verdict=FAIL
		err=$(grep -m1 -E "Aborting call|timeout on message|[Tt]imeout" "$T_DIR/$bid.err" 2>/dev/null |
			sed -E "s/.*while expecting '([^']*)'.*received '([^']*).*/unexpected \2 while expecting \1/
				s/.*timeout on message [^:]*:([0-9]+).*/timeout at message \1/" | cut -c1-70 | tr '\t|\r' '   ')
		why="$why${err:+; first: $err}"
	fi
	if [ "$path" = bridge ]; then
		# the outbox: every record of the step created and closed (after a failed step, calls
		# may wait for SIP timers: a short look only, the next held step restarts the daemon)
		sleep 0.3
		seen=$(agent_log | grep -c "^bench-call $bid-")
		SINCE_RESET=$((SINCE_RESET + seen))
		dr=$(drain "$SINCE_RESET" "$([ "$verdict" = clean ] && echo "$DRAIN_MAX_S" || echo 3)") && dump_records
	fi
	settle $pids "$AGENT_PID" || note "$path $rate cps: still busy 15 s after the step"
	cpu1=$(cpu_ticks $pids)
	ecpu1=$(cpu_ticks "$EMU_PID")
	[ "$path" = bridge ] && rss=$(rss_kib "$DAEMON_PID")
	if [ -n "$pids" ]; then cpu=$(awk -v t=$((cpu1 - cpu0)) -v hz="$HZ" 'BEGIN {printf "%.2f", t / hz}'); else cpu=-; fi
	if [ "$path" = bridge ]; then ecpu=$(awk -v t=$((ecpu1 - ecpu0)) -v hz="$HZ" 'BEGIN {printf "%.2f", t / hz}'); else ecpu=-; fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$path" "$kind" \
		"$bid" "$rate" "$secs" "$calls" "$ok" "$failed" "$retr" $((ooc + dead)) "$achieved" \
		"$verdict" "$cpu" "$ecpu" "$dr" "$rss" "${why:--}" >>"$STEPS"
	printf 'cps: [%3d s] %-8s %-5s %5s cps x %2s s: %6s ok, %s failed, %s retrans, %s cps reached, %s%s\n' \
		$((SECONDS - T_START)) "$path" "$kind" "$rate" "$secs" "$ok" "$failed" "$retr" "$achieved" \
		"$verdict" "${why:+ ($why)}" >&2
	[ "$verdict" = clean ]
}

# ramp PATH: probes up the ladder, then held steps; sets KNEE (0 if no held step was clean)
ramp() {
	local path=$1 lo=0 hi=0 r cand n=0 best=0 next
	restart_path direct # a fresh answerer: none of the last path's calls retransmitting
	for r in $LADDER; do
		if step "$path" probe "$r" "$PROBE_S"; then lo=$r; else hi=$r; break; fi
		[ $((SECONDS - T_START)) -lt $((MAX_S / 2)) ] || break
	done
	[ "$hi" -gt 0 ] || hi=$((lo * 2))
	cand=$lo
	while [ "$cand" -ge 50 ] && [ "$n" -lt $((HOLDS + 2)) ]; do
		n=$((n + 1))
		if step "$path" hold "$cand" "$HOLD_S"; then best=$cand lo=$cand; else hi=$cand; fi
		if [ "$best" = 0 ]; then
			cand=$(rnd $((cand * 6 / 10))) # not even the last clean probe held: step down
			continue
		fi
		[ "$n" -lt "$HOLDS" ] || break
		next=$(rnd $(((lo + hi) / 2)))
		{ [ "$next" -gt "$lo" ] && [ "$next" -lt "$hi" ]; } || break
		cand=$next
	done
	KNEE=$best
}

# ---- set-up -------------------------------------------------------------------------------
echo "cps: working in $T_DIR (quick=$QUICK)" >&2
make_certs || exit 1
# CCS contact centers, as a vendor serving several orgs would have: the first is lib.sh's AcmeCC,
# the others BenchCC2.. (same key and certificate, their own org id, API name and number).
cc_org() { printf '00D%012dAAA' "$1"; }
cc_api() { if [ "$1" = 1 ]; then echo AcmeCC; else echo "BenchCC$1"; fi; }
cc_number() { printf '+1555010%04d' "$1"; }
emu_args=()
for i in $(seq 2 "$CCS"); do emu_args+=(--call-center "$(cc_api "$i"):$(cc_org "$i"):$PKI/cc.crt"); done
start_emulator "${emu_args[@]}" || exit 1
loopback_only emulator "$EMU_PID" || exit 1
CONFIG=$T_DIR/scvbridge.json
# The emulator has no 50/s limit; the per-center create pacing (default 40/s, under
# Salesforce's documented 50/s per org) is lifted to its maximum so the outbox itself is measured.
{
	printf '{ "log": { "level": "info" },\n'
	printf '  "sip": { "listen": "sip:127.0.0.1:%s", "trusted_peers": ["127.0.0.1"],\n' "$SIP_PORT"
	printf '           "shutdown_grace_ms": 2000, "drain_timeout_ms": 30000, "udp_buffer_bytes": %s },\n' "$PATH_BUF"
	printf '  "store": { "path": "%s" },\n  "contact_centers": [\n' "$T_DIR/outbox.db"
	for i in $(seq 1 "$CCS"); do
		printf '    { "name": "cc%s", "org_id": "%s", "call_center_api_name": "%s",\n' "$i" "$(cc_org "$i")" "$(cc_api "$i")"
		printf '      "base_url": "https://localhost:%s/telephony/v1",\n' "$EMU_PORT"
		printf '      "private_key_file": "%s", "ca_file": "%s",\n' "$PKI/cc.key" "$PKI/ca.pem"
		printf '      "numbers": ["%s"], "forward_to": "sip:7000@127.0.0.1:%s",\n' "$(cc_number "$i")" "$AGENT_PORT"
		printf '      "call_attributes": { "X-IVR-Lang": "IvrLanguage__c" }, "max_creates_per_s": 1000 }%s\n' \
			"$([ "$i" -lt "$CCS" ] && echo ,)"
	done
	printf '  ] }\n'
} >"$CONFIG"
"$DAEMON" -c "$CONFIG" --check >/dev/null || { echo "cps: bad bench configuration" >&2; exit 1; }
# the caller's dialled numbers, one contact center after the other
{
	echo SEQUENTIAL
	for i in $(seq 1 "$CCS"); do echo "$(cc_number "$i");"; done
} >"$T_DIR/numbers.csv"
start_agent || exit 1
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 1. direct ----------------------------------------------------------------------------
DIRECT_CPS=0 KAM_CPS=0 BRIDGE_CPS=0 KAM_PSS=0 TIMES="" RSS_IDLE=0 RSS_UP=0 UP=0 HWM2=0
: >"$T_DIR/records.tsv"
if want direct; then
	T0=$SECONDS
	ramp direct
	DIRECT_CPS=$KNEE
	TIMES="direct $((SECONDS - T0)) s"
fi

# ---- 2. Kamailio --------------------------------------------------------------------------
if want kamailio; then
	T0=$SECONDS
	start_kamailio || exit 1
	note "socket buffers (receive, as the kernel counts them, twice the usable size): Kamailio $(rcvbuf "$KAM_PORT"), answerer $(rcvbuf "$AGENT_PORT"); net.core.rmem_max $RMEM_MAX"
	start_capture kamailio "$KAM_PORT" "$AGENT_PORT"
	ramp kamailio
	KAM_CPS=$KNEE
	stop_capture
	KAM_PSS=$(for p in $KAM_PID $KAM_KIDS; do awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null; done | awk '{s += $1} END {print s + 0}')
	stop_kamailio
	TIMES="$TIMES${TIMES:+, }Kamailio $((SECONDS - T0)) s"
fi

# ---- 3. scvbridge, 4. calls held up at once, 5. records ---------------------------------
if want bridge; then
	T0=$SECONDS
	start_daemon "$CONFIG" || exit 1
	loopback_only scvbridge "$DAEMON_PID" || exit 1
	note "socket buffers (receive, as the kernel counts them): scvbridge $(rcvbuf "$SIP_PORT"), answerer $(rcvbuf "$AGENT_PORT")"
	start_capture bridge "$SIP_PORT" "$AGENT_PORT"
	ramp bridge
	BRIDGE_CPS=$KNEE
	stop_capture
	h=$(rss_kib "$DAEMON_PID" VmHWM)
	[ "${h:-0}" -gt "$HWM1" ] && HWM1=$h
	stop_daemon
	forget "$DAEMON_PID"
	note "ramp daemon exit status $DAEMON_RC; restarts before the held steps: ${RESTARTS:-none}"
	TIMES="$TIMES${TIMES:+, }scvbridge $((SECONDS - T0)) s"

	# 4. calls held up at once (fresh daemon).
	# HOLD_CALLS calls set up at HOLD_CPS and held; RSS with them all up minus RSS idle, per call.
	# The figure includes each call's INVITE transactions, which the SIP stack keeps 32 s (UDP).
	T0=$SECONDS
	start_daemon "$CONFIG" || exit 1
	sleep 1
	RSS_IDLE=$(rss_kib "$DAEMON_PID")
	STEP_NO=$((STEP_NO + 1))
	HBID=b$STEP_NO
	HOLD_MS=$((HOLD_CALLS * 1000 / HOLD_CPS + 3000))
	ABORTED=""
	caller_start "$HBID" "$SIP_PORT" "$HOLD_CPS" "$HOLD_CALLS" $((HOLD_CALLS + 10)) "$HOLD_MS"
	UP=0
	for i in $(seq 1 $((HOLD_MS / 100))); do
		UP=$(agent_log | grep -c "^bench-call $HBID-")
		[ "$UP" -ge "$HOLD_CALLS" ] && break
		sleep 0.1
	done
	sleep 0.5 # the last answers and ACKs
	RSS_UP=$(rss_kib "$DAEMON_PID")
	UP_CALLER=$(sipp_stat "$HBID" CurrentCall | awk '{print $1}')
	caller_wait "$HBID" "$HOLD_CPS" "$HOLD_CALLS"
	HOLD_FAILED=$(sipp_stat "$HBID" 'FailedCall(C)' | awk '{print $1}')
	HOLD_SEEN=$(agent_log | grep -c "^bench-call $HBID-")
	SINCE_RESET=$((SINCE_RESET + HOLD_SEEN))
	HWM2=$(rss_kib "$DAEMON_PID" VmHWM)
	TIMES="$TIMES, concurrency $((SECONDS - T0)) s"
	note "concurrency run: $UP calls up at the RSS sample (caller's last count: $UP_CALLER), $HOLD_FAILED failed, caller exit $CALL_RC"

	# 5. every call the answerer saw has exactly one closed VoiceCall
	# (after the daemon's own shutdown: calls still up are hung up and closed, queued operations
	# get drain_timeout_ms to leave; what is left stays in the store and is reported)
	FINAL_DRAIN=$(drain "$SINCE_RESET" $((DRAIN_MAX_S * 3)))
	stop_daemon
	forget "$DAEMON_PID"
	dump_records
	LEFT=$(sqlite3 "$T_DIR/outbox.db" 'SELECT count(*) FROM ops' 2>/dev/null || echo "?")
	note "final drain: ${FINAL_DRAIN} s; daemon exit status $DAEMON_RC; operations left in the store: $LEFT"
fi

# ---- figures ------------------------------------------------------------------------------
# the answerer's view: call id -> vendorCallKey (bridge calls only)
agent_log | awk '$1 == "bench-call" && $3 != "" {print $2 "\t" $3}' >"$T_DIR/seen.tsv"
read -r LOST DUP ORPHANS RESENT NOTCLOSED < <(awk -F'\t' '
	FNR == NR {seen[$2] = 1; nseen++; next}
	{n[$2]++; if ($5 == "completed") closed[$2]++; resent += $7; if (!($2 in seen)) orph++}
	END {for (k in seen) if (!closed[k]) lost++
	     for (k in n) {if (n[k] > 1) dup++; if (!closed[k]) nc++}
	     printf "%d %d %d %d %d\n", lost, dup, orph, resent, nc}' "$T_DIR/seen.tsv" "$T_DIR/records.tsv")

# create latency per step: createdAt - startTime of the records of the calls the answerer saw
awk -F'\t' 'FNR == NR {split($1, a, "-"); step[$2] = a[1]; next}
	($2 in step) {print step[$2] "\t" ($3 - $4)}' "$T_DIR/seen.tsv" "$T_DIR/records.tsv" |
	sort -k1,1 -k2,2g | awk -F'\t' '
	function flush() {if (n) printf "%s\t%d\t%d\n", b, v[int(n * 0.5 + 0.999999)], v[int(n * 0.99 + 0.999999)]}
	$1 != b {flush(); b = $1; n = 0} {v[++n] = $2} END {flush()}' >"$T_DIR/create.tsv"

# post-dial delay added per step: first INVITE out (to the answerer) - first INVITE in, per call
: >"$T_DIR/pdd.tsv"
for cap in kamailio bridge; do
	[ -s "$T_DIR/$cap.pcap" ] || continue
	tshark -r "$T_DIR/$cap.pcap" -T fields -E separator=/t -e frame.time_relative -e udp.dstport \
		-e sip.display.info 2>/dev/null | tr -d '"' |
		awk -F'\t' -v out="$AGENT_PORT" '$3 ~ /^b[0-9]+-[0-9]+$/ {
			if ($2 == out) {if (!($3 in o)) o[$3] = $1} else if (!($3 in i)) i[$3] = $1}
			END {for (k in o) if (k in i) {split(k, a, "-"); printf "%s\t%.3f\n", a[1], (o[k] - i[k]) * 1000}}' |
		sort -k1,1 -k2,2g | awk -F'\t' '
		function flush() {if (n) printf "%s\t%.2f\t%.2f\t%d\n", b, v[int(n * 0.5 + 0.999999)], v[int(n * 0.99 + 0.999999)], n}
		$1 != b {flush(); b = $1; n = 0} {v[++n] = $2} END {flush()}' >>"$T_DIR/pdd.tsv"
done

# the steps with their latencies: STEPS columns, then pdd p50 p99, create p50 p99
mkdir -p "$OUT"
DATA=$OUT/cps-$STAMP.tsv
{
	printf '# path\tkind\tstep\toffered_cps\tseconds\tcalls\tok\tfailed\tretrans\tunexpected\treached_cps\tverdict\tcpu_s\temulator_cpu_s\tdrain_s\trss_kib\twhy\tpdd_p50_ms\tpdd_p99_ms\tcreate_p50_ms\tcreate_p99_ms\n'
	awk -F'\t' -v OFS='\t' 'FILENAME ~ /pdd/ {p50[$1] = $2; p99[$1] = $3; next}
		FILENAME ~ /create/ {c50[$1] = $2; c99[$1] = $3; next}
		{print $0, ($3 in p50) ? p50[$3] : "-", ($3 in p99) ? p99[$3] : "-",
		 ($3 in c50) ? c50[$3] : "-", ($3 in c99) ? c99[$3] : "-"}' \
		"$T_DIR/pdd.tsv" "$T_DIR/create.tsv" "$STEPS"
} >"$DATA"

# knee FIELD PATH RATE: a column of the held step at the path's figure
knee() {
	awk -F'\t' -v c="$1" -v p="$2" -v r="$3" '$1 == p && $2 == "hold" && $4 == r && $12 == "clean" {v = $c} END {print (v == "" ? "-" : v)}' "$DATA"
}
per1000() { awk -v s="$1" -v n="$2" 'BEGIN {if (s == "-" || n == 0) print "-"; else printf "%.2f", s * 1000 / n}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.0f MiB", k / 1024}'; }

K_CALLS=$(knee 6 kamailio "$KAM_CPS")
B_CALLS=$(knee 6 bridge "$BRIDGE_CPS")
K_CPU=$(per1000 "$(knee 13 kamailio "$KAM_CPS")" "$K_CALLS")
B_CPU=$(per1000 "$(knee 13 bridge "$BRIDGE_CPS")" "$B_CALLS")
E_CPU=$(per1000 "$(knee 14 bridge "$BRIDGE_CPS")" "$B_CALLS")
K_PDD="$(knee 18 kamailio "$KAM_CPS") / $(knee 19 kamailio "$KAM_CPS")"
B_PDD50=$(knee 18 bridge "$BRIDGE_CPS")
B_PDD99=$(knee 19 bridge "$BRIDGE_CPS")
B_C50=$(knee 20 bridge "$BRIDGE_CPS")
B_C99=$(knee 21 bridge "$BRIDGE_CPS")
B_DRAIN=$(knee 15 bridge "$BRIDGE_CPS")
PEAK=$((HWM1 > HWM2 ? HWM1 : HWM2))
PER_CALL=$(awk -v a="$RSS_UP" -v b="$RSS_IDLE" -v n="$UP" 'BEGIN {if (n > 0) printf "%.1f", (a - b) / n; else print "-"}')
# the highest held or probed clean step at which records kept up (create p99 under 1 s)
REC_CPS=$(awk -F'\t' '$1 == "bridge" && $12 == "clean" && $21 != "-" && $21 < 1000 && $4 > m {m = $4} END {print m + 0}' "$DATA")

# ---- report -------------------------------------------------------------------------------
MD=$OUT/cps-$STAMP.md
PNG=$OUT/cps-$STAMP.png
gnuplot -e "datafile='$DATA'; outfile='$PNG'" "$BENCH_DIR/chart.gp" 2>"$T_DIR/gnuplot.err" ||
	note "chart not drawn: $(head -1 "$T_DIR/gnuplot.err")"
{
	echo "### Call rate, $STAMP"
	echo
	echo "Machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); load average before: $LOAD0."
	echo "The SIPp caller, the SIPp answerer, the path under test and (for scvbridge) the emulator share these cores."
	echo "Mode: $([ "$QUICK" = 1 ] && echo "quick (BENCH_QUICK=1)" || echo full): probe steps ${PROBE_S} s on the ladder $LADDER, held steps ${HOLD_S} s (the answerer and the path's processes restarted before each); calls: 100 ms ringing, ${CALL_MS} ms talk, caller hangs up; UDP on 127.0.0.1; the bridge serves $CCS contact centers (calls round-robin), create pacing lifted to 1000/s each."
	echo
	echo "| path | sustained call rate (${HOLD_S} s, 0 failed) | post-dial delay added p50 / p99 | INVITE -> VoiceCall accepted p50 / p99 | CPU s per 1,000 calls | peak RSS | RSS per concurrent call | lost / dup |"
	echo "|---|---|---|---|---|---|---|---|"
	echo "| direct (SIPp -> SIPp) | $DIRECT_CPS cps | - | - | - | - | - | - |"
	echo "| Kamailio (stateful proxy) | $KAM_CPS cps | $K_PDD ms | - | $K_CPU | $(mib "$KAM_PSS") (PSS, all processes) | - | - |"
	echo "| scvbridge + outbox | $BRIDGE_CPS cps | $B_PDD50 / $B_PDD99 ms | $B_C50 / $B_C99 ms | $B_CPU (emulator: $E_CPU) | $(mib "$PEAK") | $PER_CALL KiB | $LOST / $DUP |"
	echo
	echo "Ratios: bridge/direct $(ratio "$BRIDGE_CPS" "$DIRECT_CPS"), bridge/Kamailio $(ratio "$BRIDGE_CPS" "$KAM_CPS")."
	echo "Records kept up (create p99 under 1 s, clean step) up to $REC_CPS cps; at the bridge's figure the outbox needed ${B_DRAIN} s after the step to close every record."
	echo
	echo "Bridge memory: idle $RSS_IDLE KiB; with $UP calls up at once (set up at $HOLD_CPS cps) $RSS_UP KiB: $PER_CALL KiB per concurrent call. Peak RSS $PEAK KiB is the ramp's high-water mark: the SIP stack keeps ended calls' transactions 32 s, so it grows with the rate (RSS after each step in the data file)."
	echo "Records: $(awk 'END {print NR}' "$T_DIR/seen.tsv") calls reached the answerer through the bridge; lost $LOST, duplicated $DUP, records with no answered leg $ORPHANS, records not closed $NOTCLOSED, creates resent and absorbed $RESENT."
	echo
	echo "| path | kind | offered cps | reached | calls | failed | retrans | unexpected | PDD added p50 / p99 ms | create p50 / p99 ms | CPU s (path) | outbox drain s | RSS after | verdict |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	awk -F'\t' '!/^#/ {printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s | %s | %s | %s%s |\n",
		$1, $2, $4, $11, $6, $8, $9, $10, $18, $19, $20, $21, $13, $15, ($16 == "-" ? "-" : sprintf("%.0f MiB", $16 / 1024)), $12, ($17 == "-" ? "" : ": " $17)}' "$DATA"
	echo
	sed 's/^/- /' "$NOTES"
	echo "- durations: $TIMES, whole run $((SECONDS - T_START)) s; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "Data: $(basename "$DATA"), chart: $(basename "$PNG")."
} | tee "$MD"
echo "bench: bridge_cps=$BRIDGE_CPS direct_cps=$DIRECT_CPS kamailio_cps=$KAM_CPS bridge_vs_kamailio=$(ratio "$BRIDGE_CPS" "$KAM_CPS") p99_added_pdd_ms=$B_PDD99 p99_create_ms=$B_C99 rss_per_call_kib=$PER_CALL lost=$LOST dup=$DUP"
