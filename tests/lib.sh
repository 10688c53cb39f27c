# Shared shell helpers for the integration tests, the demo and the benchmarks.
# Source it; it expects BUILD_DIR (default build). Everything runs on loopback, in a private
# temporary directory, and every background process is stopped by cleanup().

BUILD_DIR=${BUILD_DIR:-build}
SCVB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIPP_DIR=$SCVB_ROOT/tests/sipp
DAEMON=$SCVB_ROOT/$BUILD_DIR/scvbridge
EMULATOR=$SCVB_ROOT/$BUILD_DIR/scv-emulator

T_PASSED=0
T_FAILED=0
T_PIDS=()
T_SUITE=${T_SUITE:-integration}

pass() {
	echo "PASS $T_SUITE/$1"
	T_PASSED=$((T_PASSED + 1))
}

fail() {
	echo "FAIL $T_SUITE/$1: $2"
	T_FAILED=$((T_FAILED + 1))
}

# check NAME ACTUAL EXPECTED
check_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi
}

cleanup() {
	local p
	for p in "${T_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	# a test may have mounted a small file system under its directory
	[ -n "${T_DIR:-}" ] && grep -q " $T_DIR/" /proc/mounts 2>/dev/null &&
		awk -v d="$T_DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts | xargs -r umount
	if [ -n "${T_DIR:-}" ] && [ -z "${KEEP_TMP:-}" ]; then rm -rf "$T_DIR"; fi
}

# A private working directory and ports that do not collide with a parallel run.
setup_env() {
	T_DIR=$(mktemp -d /tmp/scvb-test.XXXXXX)
	trap cleanup EXIT
	local base=$((20000 + ($$ * 7) % 30000))
	SIP_PORT=$base
	AGENT_PORT=$((base + 1))
	CALLER_PORT=$((base + 2))
	DEAD_PORT=$((base + 3))
	TARGET_PORT=$((base + 4))
	API_PORT=$((base + 5))
}

# setup_stack [emulator args]: setup_env, make_certs and start_emulator for a suite; exits the
# suite if one of them fails. Sets CONFIG, the path a suite writes its daemon's config to.
setup_stack() {
	setup_env
	make_certs || exit 1
	start_emulator "$@" || exit 1
	CONFIG=$T_DIR/scvbridge.json
}

# Throw-away PKI: a CA, the emulator's server certificate for localhost/127.0.0.1, and the
# contact center's RSA key with the self-signed certificate an admin would paste into Salesforce.
make_certs() {
	local d=$T_DIR/pki
	mkdir -p "$d"
	(
		cd "$d" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
			-subj "/CN=scvbridge test CA" 2>/dev/null &&
			openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
				-subj "/CN=localhost" 2>/dev/null &&
			printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >ext.cnf &&
			openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
				-out server.pem -days 2 -extfile ext.cnf 2>/dev/null &&
			openssl genrsa -out cc.key 2048 2>/dev/null &&
			openssl req -new -x509 -key cc.key -out cc.crt -days 2 -sha256 \
				-subj "/CN=AcmeCC telephony integration" 2>/dev/null
	) || { echo "make_certs: openssl failed" >&2; return 1; }
	PKI=$d
}

# start_emulator: background emulator on a free port; sets EMU_PORT, EMU_URL.
start_emulator() {
	local ready=$T_DIR/emu.port i
	rm -f "$ready"
	"$EMULATOR" --listen 127.0.0.1:0 --cert "$PKI/server.pem" --key "$PKI/server.key" \
		--call-center "AcmeCC:00D000000000001AAA:$PKI/cc.crt" --ready-file "$ready" \
		"$@" 2>>"$T_DIR/emulator.log" &
	EMU_PID=$!
	T_PIDS+=("$EMU_PID")
	for i in $(seq 1 100); do
		[ -s "$ready" ] && break
		sleep 0.05
	done
	[ -s "$ready" ] || { echo "start_emulator: not ready" >&2; return 1; }
	EMU_PORT=$(cat "$ready")
	EMU_URL=https://localhost:$EMU_PORT
}

# emu METHOD PATH [BODY]: the emulator's control or API surface, JSON out.
emu() {
	local m=$1 p=$2 b=${3:-}
	if [ -n "$b" ]; then
		curl -sS --max-time 10 --cacert "$PKI/ca.pem" -X "$m" -H 'Content-Type: application/json' \
			--data "$b" "$EMU_URL$p"
	else
		curl -sS --max-time 10 --cacert "$PKI/ca.pem" -X "$m" "$EMU_URL$p"
	fi
}

# The one number of write_config's contact center, the number the suites' callers dial.
NUMBER=+15550100000

# write_config FILE [forward_to] [extra contact-center JSON members]
write_config() {
	local file=$1 fwd=${2:-} extra=${3:-}
	[ -n "$fwd" ] || fwd=sip:7000@127.0.0.1:$AGENT_PORT
	cat >"$file" <<EOF
{
  "log": { "level": "${LOG_LEVEL:-info}" },
  "sip": { "listen": "sip:127.0.0.1:$SIP_PORT", "trusted_peers": ["127.0.0.1"],
           "shutdown_grace_ms": ${GRACE_MS:-2000}, "drain_timeout_ms": ${DRAIN_MS:-10000} },
  "store": { "path": "$T_DIR/outbox.db" },
  "contact_centers": [ {
      "name": "acme", "org_id": "00D000000000001AAA", "call_center_api_name": "AcmeCC",
      "base_url": "https://localhost:$EMU_PORT/telephony/v1",
      "private_key_file": "$PKI/cc.key", "ca_file": "$PKI/ca.pem",
      "numbers": ["$NUMBER"], "forward_to": "$fwd",
      "call_attributes": { "X-IVR-Lang": "IvrLanguage__c" }$extra } ] }
EOF
}

# start_daemon CONFIG: background daemon; waits until SIP is bound. Sets DAEMON_PID.
start_daemon() {
	local i before now
	before=$(grep -c "SIP on" "$T_DIR/daemon.log" 2>/dev/null)
	"$DAEMON" -c "$1" 2>>"$T_DIR/daemon.log" &
	DAEMON_PID=$!
	T_PIDS+=("$DAEMON_PID")
	for i in $(seq 1 100); do
		now=$(grep -c "SIP on" "$T_DIR/daemon.log" 2>/dev/null)
		[ "${now:-0}" -gt "${before:-0}" ] && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "start_daemon: daemon did not start; its log:" >&2
	tail -20 "$T_DIR/daemon.log" >&2
	return 1
}

# start_daemon_or_exit CONFIG [NAME]: start_daemon, or a FAIL line NAME (default: startup) and
# the end of the suite: nothing after it could pass without the daemon.
start_daemon_or_exit() {
	start_daemon "$1" || {
		fail "${2:-startup}" "daemon did not start"
		exit 1
	}
}

# stop_daemon [TENTHS]: SIGTERM and wait (bounded: TENTHS tenths of a second, default 300),
# then SIGKILL; sets DAEMON_RC (137 if it had to be killed).
# Not to be called in a subshell: only this shell can wait for the daemon.
stop_daemon() {
	local i
	kill -TERM "$DAEMON_PID" 2>/dev/null
	for i in $(seq 1 "${1:-300}"); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -KILL "$DAEMON_PID"
		wait "$DAEMON_PID" 2>/dev/null
		DAEMON_RC=137
		return
	fi
	wait "$DAEMON_PID"
	DAEMON_RC=$?
}

# udp_skmem PORT FIELD: a memory figure of the UDP socket bound to PORT as ss reports it (rb:
# receive buffer, tb: send buffer; the kernel's count, twice the usable size); empty if none.
udp_skmem() { ss -uamn "sport = :$1" 2>/dev/null | grep -o "$2[0-9]*" | head -1 | tr -dc 0-9; }

# sipp_uas ROLE PORT SCENARIO [args]: background SIPp UAS on PORT, logging to $T_DIR/ROLE.log
# and ROLE.err; sets UAS_PID (empty if it did not start) and stops it at cleanup.
sipp_uas() {
	local role=$1 port=$2 sf=$3
	shift 3
	sipp -sf "$SIPP_DIR/$sf" -i 127.0.0.1 -p "$port" -bg -nostdin \
		-trace_logs -log_file "$T_DIR/$role.log" -trace_err -error_file "$T_DIR/$role.err" \
		-timeout 60 "$@" >/dev/null 2>&1 </dev/null
	UAS_PID=$(pgrep -n -f "sipp -sf $SIPP_DIR/$sf -i 127.0.0.1 -p $port")
	[ -n "$UAS_PID" ] && T_PIDS+=("$UAS_PID")
}

# sipp_agent SCENARIO [args]: background SIPp answering on AGENT_PORT; sets AGENT_PID.
sipp_agent() {
	sipp_uas agent "$AGENT_PORT" "$@"
	AGENT_PID=$UAS_PID
	[ -n "$AGENT_PID" ]
}

# sipp_target SCENARIO [args]: background SIPp transfer target on TARGET_PORT; sets TARGET_PID.
sipp_target() {
	sipp_uas target "$TARGET_PORT" "$@"
	TARGET_PID=$UAS_PID
	[ -n "$TARGET_PID" ]
}

# sipp_caller SCENARIO NUMBER [args]: foreground caller; returns SIPp's exit status.
sipp_caller() {
	local sf=$1 number=$2
	shift 2
	timeout 120 sipp 127.0.0.1:"$SIP_PORT" -sf "$SIPP_DIR/$sf" -s "$number" -i "${CALLER_IP:-127.0.0.1}" \
		-p "$CALLER_PORT" -set caller +15550199999 -set ivr en-US -nostdin \
		-trace_logs -log_file "$T_DIR/caller.log" -trace_err -error_file "$T_DIR/caller.err" \
		-timeout 60 -timeout_error -recv_timeout 20000 "$@" >"$T_DIR/caller.out" 2>&1 </dev/null
}

# wait_for N SECONDS CMD...: polls CMD until it succeeds (bounded).
wait_for() {
	local tries=$(($2 * 10)) i
	shift 2
	for i in $(seq 1 "$tries"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# pid_done PID: true once the process has ended (a SIPp scenario that ran to its end).
pid_done() { ! kill -0 "$1" 2>/dev/null; }

# done_or_running PID: "done" once the process has ended, "running" before.
done_or_running() { if pid_done "$1"; then echo done; else echo running; fi; }

# caller_status: the last final response the caller logged, as "final-status NNN".
caller_status() { grep -o 'final-status [0-9]*' "$T_DIR/caller.log" | tail -1; }

# rec JQ: the emulator's records through a jq filter.
rec() { emu GET /emulator/voiceCalls | jq -r "$1"; }

# key_in LOG: the last X-Vendor-Call-Key a SIPp log in $T_DIR logged (agent.log, target.log).
key_in() { sed -n 's/.*vendor-call-key \([0-9a-f-]*\).*/\1/p' "$T_DIR/$1" | tail -1; }

# agent_key: the last X-Vendor-Call-Key the agent phone logged.
agent_key() { key_in agent.log; }

# reset_case: a clean emulator and fresh SIPp logs for the next case.
reset_case() {
	emu POST /emulator/reset >/dev/null
	rm -f "$T_DIR/agent.log" "$T_DIR/caller.log" "$T_DIR/target.log"
}

# records_closed N: true when the emulator holds N records, all completed.
records_closed() {
	local n
	n=$(emu GET /emulator/voiceCalls | jq '[.[] | select(.state == "completed")] | length')
	[ "$n" = "$1" ]
}
