#!/usr/bin/env bash
# Calls end to end: SIPp caller -> scvbridge -> SIPp agent phone, with the Salesforce emulator.
# Every check reads what came out: SIPp's exit status and logs, the records the emulator holds.
set -u
. "$(dirname "$0")/../lib.sh"
T_SUITE=calls
setup_stack
write_config "$CONFIG"
start_daemon_or_exit "$CONFIG"

# ---- answered, caller hangs up ----------------------------------------------------------
reset_case
sipp_agent uas_answer.xml -m 1
sipp_caller uac_call.xml "$NUMBER" -m 1 -d 300
check_eq answered_caller_hangup.sipp_exit "$?" 0
wait_for 1 10 records_closed 1
check_eq answered_caller_hangup.records "$(rec 'length')" 1
check_eq answered_caller_hangup.key_matches_agent_leg "$(rec '.[0].vendorCallKey')" "$(agent_key)"
check_eq answered_caller_hangup.voice_call_id "$(rec '.[0].voiceCallId | test("^0LQ[0-9A-Za-z]{15}$")')" true
check_eq answered_caller_hangup.api_name "$(rec '.[0].create.callCenterApiName')" AcmeCC
check_eq answered_caller_hangup.to "$(rec '.[0].create.to')" "$NUMBER"
check_eq answered_caller_hangup.from "$(rec '.[0].create.from')" +15550199999
check_eq answered_caller_hangup.initiation "$(rec '.[0].create.initiationMethod')" Inbound
check_eq answered_caller_hangup.participant "$(rec '.[0].create.participants[0] | "\(.participantKey)/\(.type)"')" "+15550199999/END_USER"
check_eq answered_caller_hangup.call_attributes "$(rec '.[0].create.callAttributes | fromjson | .IvrLanguage__c')" en-US
check_eq answered_caller_hangup.one_update "$(rec '.[0].updates | length')" 1
check_eq answered_caller_hangup.reason "$(rec '.[0].updates[0].body.disconnectReason | "\(.value)/\(.isError)"')" "CUSTOMER_DISCONNECT/false"
check_eq answered_caller_hangup.accept_time "$(rec '.[0].updates[0].body.acceptTime != null')" true
check_eq answered_caller_hangup.no_holds "$(rec '.[0].updates[0].body.numberOfHolds')" 0
check_eq answered_caller_hangup.no_is_active "$(rec '.[0].updates[0].body | has("isActiveCall")')" false
check_eq answered_caller_hangup.times_ordered "$(rec '.[0] | (.create.startTime == .updates[0].body.startTime) and (.updates[0].body.startTime <= .updates[0].body.acceptTime) and (.updates[0].body.acceptTime <= .updates[0].body.endTime)')" true
check_eq answered_caller_hangup.state "$(rec '.[0].state')" completed
check_eq answered_caller_hangup.no_duplicate "$(rec '.[0].duplicateCreates')" 0
check_eq answered_caller_hangup.provider_header "$(emu GET '/emulator/requests?limit=10' | jq -r '[.[] | select(.path | startswith("/telephony")) | .headers["telephony-provider-name"]] | unique | join(",")')" scvbridge
vcid=$(rec '.[0].voiceCallId')
check_eq answered_caller_hangup.voice_call_id_kept "$(grep -c "call: ended .*VoiceCall $vcid" "$T_DIR/daemon.log")" 1
check_eq answered_caller_hangup.update_by_key "$(emu GET '/emulator/requests?limit=10' | jq -r --arg k "$(agent_key)" '[.[] | select(.method == "PATCH") | .path] | .[0] == "/telephony/v1/voiceCalls/\($k)"')" true

# ---- answered, agent hangs up -----------------------------------------------------------
reset_case
sipp_agent uas_answer_bye.xml -m 1 -d 300
sipp_caller uac_wait_bye.xml "$NUMBER" -m 1
check_eq agent_hangup.sipp_exit "$?" 0
wait_for 1 10 records_closed 1
check_eq agent_hangup.records "$(rec 'length')" 1
check_eq agent_hangup.reason "$(rec '.[0].updates[0].body.disconnectReason | "\(.value)/\(.isError)"')" "AGENT_DISCONNECT/false"
check_eq agent_hangup.accept_time "$(rec '.[0].updates[0].body.acceptTime != null')" true

# ---- hold and resume by the agent side (re-INVITEs relayed both ways) ---------------------
reset_case
sipp_agent uas_hold.xml -m 1
sipp_caller uac_hold.xml "$NUMBER" -m 1 -d 300
check_eq hold.sipp_exit "$?" 0
wait_for 1 10 records_closed 1
wait_for 1 10 pid_done "$AGENT_PID"
check_eq hold.agent_scenario_completed "$(done_or_running "$AGENT_PID")" done
check_eq hold.number_of_holds "$(rec '.[0].updates[0].body.numberOfHolds')" 1
# durations need recordingLocation (reference §4.2): not sent without a recording
check_eq hold.no_durations_without_recording "$(rec '.[0].updates[0].body | has("totalHoldDuration") or has("longestHoldDuration")')" false
check_eq hold.logged_duration "$(grep -cE 'resumed after 1[4-9][0-9]{2} ms' "$T_DIR/daemon.log")" 1
check_eq hold.reason "$(rec '.[0].updates[0].body.disconnectReason.value')" CUSTOMER_DISCONNECT

# ---- recording named by the agent side (header) ---------------------------------------------
stop_daemon
write_config "$CONFIG" "" ', "recording": { "header": "X-Recording-URL", "url_template": "https://rec.example.net/{date}/{vendor_call_key}.wav" }'
start_daemon_or_exit "$CONFIG" recording.startup
reset_case
sipp_agent uas_answer_rec.xml -m 1
sipp_caller uac_call.xml "$NUMBER" -m 1 -d 1200
check_eq recording_header.sipp_exit "$?" 0
wait_for 1 10 records_closed 1
check_eq recording_header.location "$(rec '.[0].updates[0].body.recordingLocation')" "https://rec.example.net/r/$(agent_key).wav"
check_eq recording_header.durations "$(rec '.[0].updates[0].body | "\(.totalRecordingDuration)/\(.agentInteractionDuration)/\(.totalHoldDuration)"')" "1/1/0"

# ---- recording by template (the agent side names none) ---------------------------------------
reset_case
sipp_agent uas_answer.xml -m 1
sipp_caller uac_call.xml "$NUMBER" -m 1 -d 200
check_eq recording_template.sipp_exit "$?" 0
wait_for 1 10 records_closed 1
check_eq recording_template.location "$(rec '.[0].updates[0].body.recordingLocation')" "https://rec.example.net/$(date -u +%Y-%m-%d)/$(agent_key).wav"

# ---- hold with a recording: the durations go along (whole seconds) ----------------------------
reset_case
sipp_agent uas_hold.xml -m 1
sipp_caller uac_hold.xml "$NUMBER" -m 1 -d 1000
check_eq hold_recorded.sipp_exit "$?" 0
wait_for 1 10 records_closed 1
# held 1.5 s of a ~3.3 s conversation
check_eq hold_recorded.hold "$(rec '.[0].updates[0].body | "\(.numberOfHolds)/\(.longestHoldDuration)/\(.totalHoldDuration)"')" "1/2/2"
check_eq hold_recorded.interaction "$(rec '.[0].updates[0].body | (.agentInteractionDuration >= 1 and .agentInteractionDuration <= 2 and .totalRecordingDuration >= 3 and .totalRecordingDuration <= 4)')" true

# ---- no recording for an unanswered call ---------------------------------------------------
reset_case
sipp_agent uas_busy.xml -m 1
sipp_caller uac_refused.xml "$NUMBER" -m 1
wait_for 1 10 records_closed 1
check_eq recording_unanswered.none "$(rec '.[0].updates[0].body | has("recordingLocation")')" false
stop_daemon
write_config "$CONFIG"
start_daemon_or_exit "$CONFIG" recording.restart

# ---- hold and resume with UPDATE instead of re-INVITE ----------------------------------------
reset_case
sipp_agent uas_hold_update.xml -m 1
sipp_caller uac_hold_update.xml "$NUMBER" -m 1 -d 300
check_eq hold_update.sipp_exit "$?" 0
wait_for 1 10 records_closed 1
wait_for 1 10 pid_done "$AGENT_PID"
check_eq hold_update.agent_scenario_completed "$(done_or_running "$AGENT_PID")" done
check_eq hold_update.number_of_holds "$(rec '.[0].updates[0].body.numberOfHolds')" 1

# ---- busy agent (486) -------------------------------------------------------------------
reset_case
sipp_agent uas_busy.xml -m 1
sipp_caller uac_refused.xml "$NUMBER" -m 1
check_eq busy.sipp_exit "$?" 0
check_eq busy.caller_status "$(caller_status)" "final-status 486"
wait_for 1 10 records_closed 1
check_eq busy.reason "$(rec '.[0].updates[0].body.disconnectReason | "\(.value)/\(.isError)"')" "OTHER/false"
check_eq busy.no_accept_time "$(rec '.[0].updates[0].body | has("acceptTime")')" false

# ---- nobody answers: ring timeout, 480 to the caller, a missed call -----------------------
stop_daemon
write_config "$CONFIG" "" ', "ring_timeout_ms": 1000'
start_daemon_or_exit "$CONFIG" no_answer.startup
reset_case
sipp_agent uas_ring.xml -m 1
sipp_caller uac_refused.xml "$NUMBER" -m 1
check_eq no_answer.sipp_exit "$?" 0
check_eq no_answer.caller_status "$(caller_status)" "final-status 480"
wait_for 1 10 records_closed 1
check_eq no_answer.reason "$(rec '.[0].updates[0].body.disconnectReason | "\(.value)/\(.isError)"')" "OTHER/false"
check_eq no_answer.no_accept_time "$(rec '.[0].updates[0].body | has("acceptTime")')" false
wait_for 1 10 pid_done "$AGENT_PID"
check_eq no_answer.agent_leg_cancelled "$(done_or_running "$AGENT_PID")" done
stop_daemon
write_config "$CONFIG"
start_daemon_or_exit "$CONFIG" no_answer.restart

# ---- caller cancels while the agent rings -----------------------------------------------
reset_case
sipp_agent uas_ring.xml -m 1
sipp_caller uac_cancel.xml "$NUMBER" -m 1
check_eq cancel.sipp_exit "$?" 0
wait_for 1 10 records_closed 1
check_eq cancel.records "$(rec 'length')" 1
check_eq cancel.reason "$(rec '.[0].updates[0].body.disconnectReason | "\(.value)/\(.isError)"')" "CUSTOMER_DISCONNECT/false"
check_eq cancel.no_accept_time "$(rec '.[0].updates[0].body | has("acceptTime")')" false
wait_for 1 10 pid_done "$AGENT_PID" # the agent leg saw the CANCEL through to its ACK
check_eq cancel.agent_leg_cancelled "$(done_or_running "$AGENT_PID")" done

# ---- unknown number: 404, nothing in Salesforce -----------------------------------------
reset_case
sipp_caller uac_refused.xml +15550100999 -m 1
check_eq unknown_number.sipp_exit "$?" 0
check_eq unknown_number.caller_status "$(caller_status)" "final-status 404"
sleep 0.3
check_eq unknown_number.no_record "$(rec 'length')" 0

# ---- untrusted source: 403, nothing in Salesforce ---------------------------------------
reset_case
CALLER_IP=127.0.0.5 sipp_caller uac_refused.xml "$NUMBER" -m 1
check_eq untrusted.sipp_exit "$?" 0
check_eq untrusted.caller_status "$(caller_status)" "final-status 403"
sleep 0.3
check_eq untrusted.no_record "$(rec 'length')" 0

# ---- a few dozen calls in a row: none lost, none duplicated -----------------------------
reset_case
N=36
sipp_agent uas_answer.xml -m $N
sipp_caller uac_call.xml "$NUMBER" -m $N -r 12 -l 12 -d 200
check_eq many.sipp_exit "$?" 0
wait_for 1 30 records_closed $N
check_eq many.records "$(rec 'length')" $N
check_eq many.distinct_keys "$(rec '[.[].vendorCallKey] | unique | length')" $N
check_eq many.one_update_each "$(rec '[.[] | select((.updates | length) == 1)] | length')" $N
check_eq many.no_duplicates "$(rec '[.[].duplicateCreates] | add')" 0
check_eq many.agent_keys_match "$(grep -o 'vendor-call-key [0-9a-f-]*' "$T_DIR/agent.log" | awk '{print $2}' | sort | tr '\n' ' ')" "$(rec '[.[].vendorCallKey] | sort | join(" ")') "

# ---- Salesforce unreachable during a call: SIP does not wait, records follow later ----------
reset_case
emu POST /emulator/listen '{"accept":false,"forMs":3000}' >/dev/null
sipp_agent uas_answer.xml -m 1
sipp_caller uac_call.xml "$NUMBER" -m 1 -d 300
check_eq salesforce_down.sipp_exit "$?" 0
wait_for 1 10 emu GET /emulator/ping >/dev/null 2>&1
wait_for 1 30 records_closed 1
check_eq salesforce_down.records "$(rec 'length')" 1
check_eq salesforce_down.created_once "$(rec '.[0].duplicateCreates')" 0
check_eq salesforce_down.closed "$(rec '.[0].updates | length')" 1
check_eq salesforce_down.key_matches_agent_leg "$(rec '.[0].vendorCallKey')" "$(agent_key)"
check_eq salesforce_down.retried "$(grep -c "create to acme failed" "$T_DIR/daemon.log" | awk '{print ($1 > 0)}')" 1

# ---- Salesforce answers 503 then recovers: in order, once -------------------------------
reset_case
emu POST /emulator/faults '{"match":"POST /voiceCalls$","status":503,"retryAfter":1,"count":2}' >/dev/null
sipp_agent uas_answer.xml -m 1
sipp_caller uac_call.xml "$NUMBER" -m 1 -d 200
check_eq salesforce_503.sipp_exit "$?" 0
wait_for 1 30 records_closed 1
check_eq salesforce_503.records "$(rec 'length')" 1
check_eq salesforce_503.update_after_create "$(rec '.[0] | .createdAt <= .updates[0].receivedAt')" true
check_eq salesforce_503.statuses "$(emu GET '/emulator/requests?limit=10' | jq -r '[.[] | select(.path | startswith("/telephony")) | "\(.method) \(.status)"] | join(",")')" "POST 503,POST 503,POST 200,PATCH 200"

# ---- clean stop -------------------------------------------------------------------------
stop_daemon
check_eq clean_stop.exit_status "$DAEMON_RC" 0

# ---- agent target unreachable: TELECOM_PROBLEM ------------------------------------------
reset_case
write_config "$CONFIG" "sip:7000@127.0.0.1:$DEAD_PORT"
: >"$T_DIR/daemon.log"
start_daemon_or_exit "$CONFIG" unreachable.startup
sipp_caller uac_refused.xml "$NUMBER" -m 1
check_eq unreachable.sipp_exit "$?" 0
status=$(caller_status)
case "$status" in "final-status 5"* | "final-status 408") pass unreachable.caller_status ;; *) fail unreachable.caller_status "got '$status', want 5xx or 408" ;; esac
wait_for 1 10 records_closed 1
check_eq unreachable.reason "$(rec '.[0].updates[0].body.disconnectReason | "\(.value)/\(.isError)"')" "TELECOM_PROBLEM/true"
stop_daemon
check_eq unreachable.exit_status "$DAEMON_RC" 0

# ---- SIGTERM with a call up: refused no more than needed, closed as TELECOM_PROBLEM -------
reset_case
write_config "$CONFIG"
: >"$T_DIR/daemon.log"
start_daemon_or_exit "$CONFIG" shutdown.startup
sipp_agent uas_answer.xml -m 1
sipp_caller uac_call.xml "$NUMBER" -m 1 -d 20000 &
caller_job=$!
answered() { [ "$(emu GET /emulator/voiceCalls | jq 'length')" = 1 ] && grep -q "ringing -> answered\|VoiceCall .* created" "$T_DIR/daemon.log"; }
wait_for 1 10 answered
sleep 0.5
t0=$SECONDS
stop_daemon
check_eq shutdown.exit_status "$DAEMON_RC" 0
check_eq shutdown.within_grace_and_drain "$(((SECONDS - t0) < 15))" 1
check_eq shutdown.hung_up "$(grep -c 'still up after the grace period' "$T_DIR/daemon.log")" 1
wait_for 1 10 records_closed 1
check_eq shutdown.reason "$(rec '.[0].updates[0].body.disconnectReason | "\(.value)/\(.isError)"')" "TELECOM_PROBLEM/true"
check_eq shutdown.accept_time "$(rec '.[0].updates[0].body.acceptTime != null')" true
kill "$caller_job" 2>/dev/null
wait "$caller_job" 2>/dev/null

echo "calls: $T_PASSED passed, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
