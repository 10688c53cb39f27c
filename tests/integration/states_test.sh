#!/usr/bin/env bash
# State changes made visible: at debug level every change of the SIP side's call, leg and
# transfer states, and of the call core's state and routing, is one log line "old -> new" with
# the call's vendorCallKey. The checks read those lines, in order, for an answered call whose
# closing update waits for a recorder's report, a blind transfer, and a shutdown with a call up
# (whose exit status also says, under SANITIZE=1, that nothing leaked).
set -u
. "$(dirname "$0")/../lib.sh"
T_SUITE=states
setup_stack
LOG=$T_DIR/daemon.log
LOG_LEVEL=debug GRACE_MS=500 write_config "$CONFIG" "" \
	', "recording": { "url_template": "https://rec.example.net/t/{vendor_call_key}.wav", "report_wait_ms": 300 }'
start_daemon_or_exit "$CONFIG"

# changes KEY WHAT: the "old -> new" of KEY's lines for WHAT (a sed pattern), comma-separated
changes() {
	grep -F "] " "$LOG" | grep -F "[$1] " | sed -n "s/^.*\] $2\([a-z_]* -> [a-z_]*\)$/\1/p" | paste -sd, -
}
key_done() { grep -qF "[$1] call: report_wait -> ended" "$LOG"; }

# ---- an answered call, the caller hangs up, no recorder reports ---------------------------
reset_case
sipp_agent uas_answer.xml -m 1
sipp_caller uac_call.xml "$NUMBER" -m 1 -d 300
check_eq answered.sipp_exit "$?" 0
key=$(agent_key)
wait_for 1 10 key_done "$key"
check_eq answered.core "$(changes "$key" 'call: ')" \
	"routing -> ringing,ringing -> answered,answered -> report_wait,report_wait -> ended"
check_eq answered.routing "$(changes "$key" 'routing: ')" "static -> forwarded"
check_eq answered.sip_call "$(changes "$key" 'sip: call [0-9]*: ')" \
	"routing -> calling,calling -> early,early -> answered,answered -> ending"
check_eq answered.agent_leg "$(changes "$key" 'sip: call [0-9]* leg b: ')" \
	"idle -> inviting,inviting -> answered,answered -> terminated"
check_eq answered.caller_leg "$(changes "$key" 'sip: call [0-9]* leg a: ')" \
	"inviting -> answered,answered -> terminated"
# before the loop named the key, the SIP thread logs the call without one
check_eq answered.unkeyed_start "$(grep -cE 'debug sip: call [0-9]+ leg a: idle -> inviting$' "$LOG")" 1
wait_for 1 10 records_closed 1
check_eq answered.closed_with_template "$(rec '.[0].updates[0].body.recordingLocation')" \
	"https://rec.example.net/t/$key.wav"

# ---- blind transfer: the transfer's states, and the legs moving between slots -------------
reset_case
sipp_target uas_target.xml -m 1
sipp_agent uas_refer.xml -m 1 -set refer_to "sip:8000@127.0.0.1:$TARGET_PORT"
sipp_caller uac_xfer.xml "$NUMBER" -m 1 -d 500
check_eq transfer.caller_exit "$?" 0
first=$(key_in agent.log)
wait_for 1 10 pid_done "$TARGET_PID"
second=$(key_in target.log)
wait_for 1 10 key_done "$second"
check_eq transfer.states_first_leg "$(changes "$first" 'sip: call [0-9]* transfer: ')" \
	"none -> asked,asked -> calling,calling -> rebridging"
check_eq transfer.states_second_leg "$(changes "$second" 'sip: call [0-9]* transfer: ')" \
	"rebridging -> none"
check_eq transfer.target_leg "$(changes "$first" 'sip: call [0-9]* leg c: ')" \
	"idle -> inviting,inviting -> answered"
check_eq transfer.agent_leg_retired "$(changes "$first" 'sip: call [0-9]* leg x: ')" \
	"idle -> answered"
check_eq transfer.agent_slot "$(changes "$first" 'sip: call [0-9]* leg b: ')" \
	"idle -> inviting,inviting -> answered,answered -> idle"
check_eq transfer.target_in_agent_slot "$(changes "$second" 'sip: call [0-9]* leg b: ')" \
	"idle -> answered,answered -> terminated"
check_eq transfer.core_second_leg "$(changes "$second" 'call: ')" \
	"answered -> report_wait,report_wait -> ended"

# ---- SIGTERM with a call up: hung up after the grace period, a clean exit -------------------
reset_case
sipp_agent uas_answer.xml -m 1
sipp_caller uac_call.xml "$NUMBER" -m 1 -d 20000 &
caller_job=$!
answered() { [ -n "$(agent_key)" ] && grep -qF "[$(agent_key)] call: ringing -> answered" "$LOG"; }
wait_for 1 10 answered
key=$(agent_key)
stop_daemon
check_eq shutdown.exit_status "$DAEMON_RC" 0
check_eq shutdown.sip_call "$(changes "$key" 'sip: call [0-9]*: ')" \
	"routing -> calling,calling -> early,early -> answered,answered -> ending"
check_eq shutdown.core "$(changes "$key" 'call: ')" \
	"routing -> ringing,ringing -> answered,answered -> report_wait,report_wait -> ended"
check_eq shutdown.nothing_left_open "$(grep -c 'handles left open\|still up at exit\|did not stop' "$LOG")" 0
kill "$caller_job" 2>/dev/null
wait "$caller_job" 2>/dev/null

echo "states: $T_PASSED passed, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
