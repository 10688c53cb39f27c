#!/usr/bin/env bash
# Kill/restart soak: a stream of calls while the daemon is SIGKILLed and restarted again and
# again; counts records lost (a call the agent phone saw without a closed VoiceCall) and
# duplicated (more than one record for a key), and the recovery time after each restart.
# Loopback only; bounded by SOAK_CYCLES (default 30) and the call count.
set -u
. "$(dirname "$0")/../lib.sh"
T_SUITE=bench-soak
setup_env
make_certs || exit 1
start_emulator || exit 1
CONFIG=$T_DIR/scvbridge.json
write_config "$CONFIG"
CYCLES=${SOAK_CYCLES:-30}
RATE=${SOAK_CPS:-10}
CALLS=$((CYCLES * RATE * 2))

start_daemon "$CONFIG" || exit 1
sipp_agent uas_answer.xml -m $((CALLS * 2))
(sipp_caller uac_call.xml +15550100000 -m $CALLS -r "$RATE" -l 200 -d 1000 -recv_timeout 5000) &
stream=$!
recover=()
for i in $(seq 1 "$CYCLES"); do
	sleep "1.$((RANDOM % 10))"
	kill -KILL "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	t0=$(date +%s%N)
	start_daemon "$CONFIG" || { echo "soak: restart $i failed"; break; }
	recover+=($((($(date +%s%N) - t0) / 1000000)))
done
wait "$stream" 2>/dev/null
# let the outbox drain what the last process holds (bounded)
for i in $(seq 1 120); do
	open=$(emu GET /emulator/voiceCalls | jq '[.[] | select(.state != "completed")] | length')
	[ "$open" = 0 ] && break
	sleep 1
done
stop_daemon
recs=$(emu GET /emulator/voiceCalls)
lost=0
for k in $(grep -o 'vendor-call-key [0-9a-f-]*' "$T_DIR/agent.log" | awk '{print $2}' | sort -u); do
	n=$(echo "$recs" | jq --arg k "$k" '[.[] | select(.vendorCallKey == $k and .state == "completed")] | length')
	[ "$n" = 1 ] || lost=$((lost + 1))
done
seen=$(grep -o 'vendor-call-key [0-9a-f-]*' "$T_DIR/agent.log" | sort -u | wc -l)
total=$(echo "$recs" | jq 'length')
dup=$(echo "$recs" | jq '[group_by(.vendorCallKey)[] | select(length > 1)] | length')
resent=$(echo "$recs" | jq '[.[].duplicateCreates] | add // 0')
cut=$(echo "$recs" | jq '[.[] | select(.updates[-1].body.disconnectReason.value == "TELECOM_PROBLEM")] | length')
sorted=$(printf '%s\n' "${recover[@]}" | sort -n)
p50=$(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
max=$(echo "$sorted" | tail -1)
echo "| kill cycles | calls the agent saw | VoiceCalls | lost | duplicated | creates resent (absorbed) | closed as cut by a crash | restart to SIP-ready p50 / max |"
echo "|---|---|---|---|---|---|---|---|"
echo "| ${#recover[@]} | $seen | $total | $lost | $dup | $resent | $cut | $p50 ms / $max ms |"
echo "soak: cycles=${#recover[@]} seen=$seen records=$total lost=$lost dup=$dup resent=$resent cut=$cut recover_p50_ms=$p50 recover_max_ms=$max"
