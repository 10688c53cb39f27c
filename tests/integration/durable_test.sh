#!/usr/bin/env bash
# Nothing lost: Salesforce outages, 429 with Retry-After, dead letters and their replay, and
# SIGKILL of the daemon in the middle of a stream of calls. Asserts on the emulator's records.
set -u
. "$(dirname "$0")/../lib.sh"
T_SUITE=durable
setup_stack
write_config "$CONFIG"

agent_keys() { grep -o 'vendor-call-key [0-9a-f-]*' "$T_DIR/agent.log" 2>/dev/null | awk '{print $2}' | sort -u; }

start_daemon_or_exit "$CONFIG"

# ---- a Salesforce outage during a stream of calls ---------------------------------------
reset_case
emu POST /emulator/faults '{"match":"/voiceCalls","status":503}' >/dev/null
N=20
sipp_agent uas_answer.xml -m $N
sipp_caller uac_call.xml "$NUMBER" -m $N -r 10 -l 10 -d 200
check_eq outage.calls_flow "$?" 0
check_eq outage.nothing_accepted_yet "$(rec 'length')" 0
during=$(emu GET /emulator/stats | jq '.byStatus["503"] // 0')
# one probe per backoff interval, not one request per operation and retry
check_eq outage.no_retry_storm "$((during <= 8))" 1
emu DELETE /emulator/faults >/dev/null
wait_for 1 60 records_closed $N
check_eq outage.all_closed "$(rec '[.[] | select(.state == "completed")] | length')" $N
check_eq outage.one_record_per_call "$(rec '[.[].vendorCallKey] | unique | length')" $N
check_eq outage.one_update_each "$(rec '[.[] | select((.updates | length) == 1)] | length')" $N
check_eq outage.update_after_create "$(rec '[.[] | select(.createdAt <= .updates[0].receivedAt)] | length')" $N
check_eq outage.keys_match_agent "$(agent_keys | tr '\n' ' ')" "$(rec '[.[].vendorCallKey] | sort | join(" ")') "
echo "# outage: $during requests answered 503 while $N calls went through"

# ---- 429 with Retry-After: the next attempt waits at least that long ---------------------
reset_case
emu POST /emulator/faults '{"match":"POST /voiceCalls$","status":429,"retryAfter":2,"count":1}' >/dev/null
sipp_agent uas_answer.xml -m 1
sipp_caller uac_call.xml "$NUMBER" -m 1 -d 100
check_eq retry_after.sipp_exit "$?" 0
wait_for 1 20 records_closed 1
gap=$(emu GET '/emulator/requests?limit=20' | jq '[.[] | select(.method == "POST")] | (.[1].receivedAt - .[0].receivedAt)')
check_eq retry_after.statuses "$(emu GET '/emulator/requests?limit=20' | jq -r '[.[] | select(.method == "POST") | .status] | join(",")')" "429,200"
check_eq retry_after.waited_2s "$((gap >= 2000))" 1
echo "# retry_after: second attempt ${gap} ms after the 429 (Retry-After: 2)"

# ---- dead letters: refused for good, listed, replayed ------------------------------------
reset_case
emu POST /emulator/faults '{"match":"PATCH /voiceCalls","status":400,"count":1}' >/dev/null
sipp_agent uas_answer.xml -m 1
sipp_caller uac_call.xml "$NUMBER" -m 1 -d 100
check_eq dead_letter.sipp_exit "$?" 0
key=$(agent_keys)
dead_listed() { "$DAEMON" -c "$CONFIG" --dead-letters 2>/dev/null | grep -q "call=$key .*status=400"; }
wait_for 1 10 dead_listed
check_eq dead_letter.listed "$("$DAEMON" -c "$CONFIG" --dead-letters | grep -c "call=$key reason=refused status=400")" 1
check_eq dead_letter.record_still_open "$(rec '.[0].state')" new
"$DAEMON" -c "$CONFIG" --replay-dead-letters >/dev/null 2>&1
check_eq dead_letter.replay_refused_while_running "$?" 1
stop_daemon
check_eq dead_letter.stop "$DAEMON_RC" 0
out=$("$DAEMON" -c "$CONFIG" --replay-dead-letters 2>&1)
check_eq dead_letter.replay "$?" 0
check_eq dead_letter.replay_count "$(echo "$out" | grep -c '^1 dead letter')" 1
start_daemon_or_exit "$CONFIG" dead_letter.restart
wait_for 1 20 records_closed 1
check_eq dead_letter.delivered_after_replay "$(rec '.[0].updates | length')" 1
check_eq dead_letter.none_left "$("$DAEMON" -c "$CONFIG" --dead-letters | head -1 | awk '{print $1}')" 0

# ---- ambiguous outcome: the create arrived but the answer was lost --------------------------
reset_case
emu POST /emulator/faults '{"match":"POST /voiceCalls$","drop":"after","count":1}' >/dev/null
sipp_agent uas_answer.xml -m 1
sipp_caller uac_call.xml "$NUMBER" -m 1 -d 100
check_eq ambiguous.sipp_exit "$?" 0
wait_for 1 20 records_closed 1
# resent with the same vendorCallKey: Salesforce (emulated: the documented legacy rule) keeps
# one record and answers with its id
check_eq ambiguous.one_record "$(rec 'length')" 1
check_eq ambiguous.resend_seen "$(rec '.[0].duplicateCreates')" 1
check_eq ambiguous.closed_once "$(rec '.[0].updates | length')" 1

# ---- SIGKILL during a stream of calls, restarted each time --------------------------------
reset_case
CYCLES=${KILL_CYCLES:-5}
N=40
sipp_agent uas_answer.xml -m 1000
( sipp_caller uac_call.xml "$NUMBER" -m $N -r 4 -l 20 -d 1500 ) &
stream=$!
for i in $(seq 1 "$CYCLES"); do
	sleep "1.$((RANDOM % 10))"
	kill -KILL "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	start_daemon "$CONFIG" || { fail kill.restart "daemon did not restart (cycle $i)"; break; }
done
wait "$stream" 2>/dev/null
wait_for 1 60 sh -c "[ \"\$(curl -sS --cacert '$PKI/ca.pem' '$EMU_URL/emulator/voiceCalls' | jq '[.[] | select(.state != \"completed\")] | length')\" = 0 ]"
seen=$(agent_keys | wc -l)
check_eq kill.agent_saw_calls "$((seen > 0))" 1
missing=0
for k in $(agent_keys); do
	[ "$(rec "[.[] | select(.vendorCallKey == \"$k\")] | length")" = 1 ] || missing=$((missing + 1))
done
check_eq kill.every_forwarded_call_has_one_record "$missing" 0
check_eq kill.all_closed "$(rec '[.[] | select(.state != "completed")] | length')" 0
check_eq kill.one_record_per_key "$(rec '[.[].vendorCallKey] | unique | length')" "$(rec 'length')"
cut=$(rec '[.[] | select(.updates[-1].body.disconnectReason.value == "TELECOM_PROBLEM")] | length')
dups=$(rec '[.[].duplicateCreates] | add // 0')
echo "# kill: $CYCLES SIGKILL cycles; $seen calls reached the agent; $(rec 'length') VoiceCalls, all closed; $cut closed as cut by a crash; $dups repeated create(s) absorbed by key"

stop_daemon
check_eq clean_stop "$DAEMON_RC" 0

# ---- the store's disk is full: calls flow, operations are held in memory and delivered ---
SMALL=$T_DIR/small
mkdir -p "$SMALL"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=512k tmpfs "$SMALL" 2>/dev/null; then
	reset_case
	sed "s|\"path\": \"$T_DIR/outbox.db\"|\"path\": \"$SMALL/outbox.db\"|" "$CONFIG" >"$T_DIR/small.json"
	: >"$T_DIR/daemon.log"
	start_daemon "$T_DIR/small.json" || fail disk_full.startup "daemon did not start"
	dd if=/dev/zero of="$SMALL/filler" bs=4k 2>/dev/null
	N=5
	sipp_agent uas_answer.xml -m $N
	sipp_caller uac_call.xml "$NUMBER" -m $N -r 5 -d 200
	check_eq disk_full.calls_flow "$?" 0
	wait_for 1 20 records_closed $N
	check_eq disk_full.delivered_from_memory "$(rec 'length')" $N
	check_eq disk_full.says_what_is_at_risk "$(grep -c 'cannot write the store' "$T_DIR/daemon.log" | awk '{print ($1 > 0)}')" 1
	rm -f "$SMALL/filler"
	wait_for 1 10 grep -q 'takes writes again' "$T_DIR/daemon.log"
	check_eq disk_full.recovers "$(grep -c 'takes writes again' "$T_DIR/daemon.log" | awk '{print ($1 > 0)}')" 1
	stop_daemon
	check_eq disk_full.clean_stop "$DAEMON_RC" 0
	umount "$SMALL"
else
	echo "# disk_full: not run (needs root to mount a small tmpfs)"
fi

echo "durable: $T_PASSED passed, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
