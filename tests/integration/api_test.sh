#!/usr/bin/env bash
# The local HTTP API: health, readiness, and recordings reported by a recorder after the call
# (the closing update waits up to recording.report_wait_ms for the report).
set -u
. "$(dirname "$0")/../lib.sh"
T_SUITE=api
setup_stack
TOKEN=test-token-0123456789abcdef
write_config "$CONFIG" "" ', "recording": { "url_template": "https://rec.example.net/t/{vendor_call_key}.wav", "report_wait_ms": 4000 }'
# the API block goes at the top level
sed -i "s|  \"store\": {|  \"http\": { \"listen\": \"127.0.0.1:$API_PORT\", \"token\": \"$TOKEN\" },\n  \"store\": {|" "$CONFIG"
start_daemon_or_exit "$CONFIG"
API=http://127.0.0.1:$API_PORT

status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
report() { # KEY BODY [TOKEN]
	status_of -X POST -H "Authorization: Bearer ${3:-$TOKEN}" -H 'Content-Type: application/json' \
		--data "$2" "$API/v1/calls/$1/recording"
}

check_eq livez "$(status_of "$API/livez")" 200
check_eq readyz "$(curl -s --max-time 5 "$API/readyz" | jq -r .status)" ready
check_eq no_token "$(status_of -X POST --data '{"url":"https://r/x.wav"}' "$API/v1/calls/abc/recording")" 401
check_eq wrong_token "$(report abc '{"url":"https://r/x.wav"}' wrong-token-0123456789)" 401
check_eq unknown_call "$(report 00000000-0000-4000-8000-000000000000 '{"url":"https://r/x.wav"}')" 404

# ---- the recorder reports after the call: the closing update waited for it ------------------
reset_case
sipp_agent uas_answer.xml -m 1
sipp_caller uac_call.xml "$NUMBER" -m 1 -d 300
check_eq after_call.sipp_exit "$?" 0
key=$(agent_key)
sleep 0.5
check_eq after_call.update_held_back "$(rec '.[0].updates | length')" 0
check_eq after_call.bad_body "$(report "$key" '{"url":42}')" 400
check_eq after_call.accepted "$(report "$key" '{"url":"https://rec.example.net/r/after.wav","duration":42}')" 202
wait_for 1 10 records_closed 1
check_eq after_call.location "$(rec '.[0].updates[0].body.recordingLocation')" "https://rec.example.net/r/after.wav"
check_eq after_call.duration "$(rec '.[0].updates[0].body.totalRecordingDuration')" 42

# ---- reported during the call: no wait at the end -------------------------------------------
reset_case
sipp_agent uas_answer.xml -m 1
( sleep 0.6; report "$(agent_key)" '{"url":"https://rec.example.net/r/during.wav"}' >"$T_DIR/during.status" ) &
reporter=$!
sipp_caller uac_call.xml "$NUMBER" -m 1 -d 1500
check_eq during_call.sipp_exit "$?" 0
wait "$reporter"
check_eq during_call.accepted "$(cat "$T_DIR/during.status")" 202
wait_for 1 3 records_closed 1
check_eq during_call.closed_at_once "$(rec '.[0].state')" completed
check_eq during_call.location "$(rec '.[0].updates[0].body.recordingLocation')" "https://rec.example.net/r/during.wav"

# ---- no report: the template after report_wait_ms -------------------------------------------
reset_case
sipp_agent uas_answer.xml -m 1
sipp_caller uac_call.xml "$NUMBER" -m 1 -d 200
check_eq no_report.sipp_exit "$?" 0
wait_for 1 10 records_closed 1
check_eq no_report.template "$(rec '.[0].updates[0].body.recordingLocation')" "https://rec.example.net/t/$(agent_key).wav"
check_eq no_report.logged "$(grep -c 'no recording report within 4000 ms' "$T_DIR/daemon.log")" 1

stop_daemon
check_eq clean_stop "$DAEMON_RC" 0

# ---- the API's port taken: start-up fails clearly -----------------------------------------
( sipp -sn uas -i 127.0.0.1 -t t1 -p "$API_PORT" -bg -nostdin >/dev/null 2>&1 )
busy_pid=$(pgrep -n -f "sipp -sn uas -i 127.0.0.1 -t t1 -p $API_PORT")
[ -n "$busy_pid" ] && T_PIDS+=("$busy_pid")
timeout 20 "$DAEMON" -c "$CONFIG" >"$T_DIR/busy.out" 2>&1
check_eq port_taken.exit "$?" 1
check_eq port_taken.message "$(grep -c "local API on 127.0.0.1:$API_PORT" "$T_DIR/busy.out")" 1

echo "api: $T_PASSED passed, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
