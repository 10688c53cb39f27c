#!/usr/bin/env bash
# Omni-Channel routing: the bridge asks Salesforce (omniFlow) where to ring and maps the answer
# through routing.agents / routing.queues; forward_to is the fallback when Salesforce errs, is
# slow or names an unknown id. Missed calls it routed get clearRouting.
set -u
. "$(dirname "$0")/../lib.sh"
T_SUITE=routing
setup_stack
write_config "$CONFIG" "sip:7000@127.0.0.1:$AGENT_PORT" ', "routing": { "mode": "omni",
    "flow_dev_name": "Route_Support", "fallback_queue": "Support_Q", "timeout_ms": 1000,
    "agents": { "ext-7001": "sip:7001@127.0.0.1:'"$AGENT_PORT"'" },
    "queues": { "ext-q-1": "sip:600@127.0.0.1:'"$AGENT_PORT"'" } }'
start_daemon_or_exit "$CONFIG"

ruri() { sed -n 's/.*ruri-user \([^ ]*\).*/\1/p' "$T_DIR/agent.log" | tail -1; }
omni_answer() { emu POST /emulator/omniFlow "{\"dialedNumber\":\"$NUMBER\",$1}" >/dev/null; }
answered_call() {
	sipp_agent uas_answer.xml -m 1
	sipp_caller uac_call.xml "$NUMBER" -m 1 -d 200 -trace_msg -message_file "$T_DIR/caller.msg"
}

# ---- Omni-Channel names an agent -------------------------------------------------------
reset_case
omni_answer '"response":{"agent":"ext-7001","queue":"ext-q-1"}'
rm -f "$T_DIR/caller.msg"
answered_call
check_eq agent.sipp_exit "$?" 0
check_eq agent.rang_the_agent "$(ruri)" 7001
wait_for 1 10 records_closed 1
check_eq agent.omniflow_body "$(rec '.[0].omniFlow[0] | "\(.dialedNumber)/\(.flowDevName)/\(.fallbackQueue)"')" "$NUMBER/Route_Support/Support_Q"
check_eq agent.caller_heard_ringing "$(grep -c '^SIP/2.0 180' "$T_DIR/caller.msg" | awk '{print ($1 > 0)}')" 1
check_eq agent.after_create "$(emu GET '/emulator/requests?limit=10' | jq -r '[.[] | select(.path | startswith("/telephony")) | .method + " " + (.path | split("/") | .[-1])] | .[0:2] | join(",")')" "POST voiceCalls,PATCH omniFlow"
check_eq agent.no_clear_routing_when_answered "$(rec '.[0].clearRouting')" 0
check_eq agent.logged "$(grep -c 'Omni-Channel chose agent ext-7001 in [0-9]* ms' "$T_DIR/daemon.log")" 1

# ---- Omni-Channel names only a queue -------------------------------------------------------
reset_case
omni_answer '"response":{"agent":null,"queue":"ext-q-1"}'
answered_call
check_eq queue.sipp_exit "$?" 0
check_eq queue.rang_the_queue "$(ruri)" 600

# ---- omniFlow fails: forward_to -----------------------------------------------------------
reset_case
omni_answer '"status":500,"response":{"errors":["flow failed"]}'
answered_call
check_eq error_fallback.sipp_exit "$?" 0
check_eq error_fallback.rang_forward_to "$(ruri)" 7000
check_eq error_fallback.logged "$(grep -c 'omniFlow answered HTTP 500' "$T_DIR/daemon.log")" 1

# ---- omniFlow slower than timeout_ms: forward_to at the deadline --------------------------
reset_case
omni_answer '"latencyMs":3000,"response":{"agent":"ext-7001"}'
answered_call
check_eq slow_fallback.sipp_exit "$?" 0
check_eq slow_fallback.rang_forward_to "$(ruri)" 7000
check_eq slow_fallback.logged "$(grep -c 'no usable answer in time' "$T_DIR/daemon.log")" 1

# ---- an id the maps do not have: forward_to -----------------------------------------------
reset_case
omni_answer '"response":{"agent":"ext-9999"}'
answered_call
check_eq unknown_id.sipp_exit "$?" 0
check_eq unknown_id.rang_forward_to "$(ruri)" 7000

# ---- abandoned after Omni-Channel routed it: clearRouting, then the closing update --------
reset_case
omni_answer '"response":{"agent":"ext-7001"}'
sipp_agent uas_ring.xml -m 1
sipp_caller uac_cancel.xml "$NUMBER" -m 1
check_eq abandon.sipp_exit "$?" 0
wait_for 1 10 records_closed 1
check_eq abandon.clear_routing "$(rec '.[0].clearRouting')" 1
check_eq abandon.reason "$(rec '.[0].updates[0].body.disconnectReason.value')" CUSTOMER_DISCONNECT
check_eq abandon.order "$(emu GET '/emulator/requests?limit=10' | jq -r '[.[] | select(.method == "PATCH") | .path | split("/") | .[-1]] | join(",")' | sed 's/[0-9a-f-]\{36\}/KEY/g')" "omniFlow,clearRouting,KEY"

stop_daemon
check_eq clean_stop "$DAEMON_RC" 0
echo "routing: $T_PASSED passed, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
