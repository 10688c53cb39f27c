#!/usr/bin/env bash
# Transfers: the agent side REFERs the caller to a target; the bridge calls the target itself,
# reports progress with NOTIFY (sipfrag), re-bridges the caller (re-INVITE, RFC 3725) and ends
# the agent's leg. Salesforce gets a Transfer VoiceCall parented to the first leg.
set -u
. "$(dirname "$0")/../lib.sh"
T_SUITE=transfer
setup_stack
write_config "$CONFIG"
start_daemon_or_exit "$CONFIG"

# ---- blind transfer ------------------------------------------------------------------------
reset_case
sipp_target uas_target.xml -m 1
sipp_agent uas_refer.xml -m 1 -set refer_to "sip:8000@127.0.0.1:$TARGET_PORT"
sipp_caller uac_xfer.xml "$NUMBER" -m 1 -d 500
check_eq blind.caller_exit "$?" 0
wait_for 1 10 pid_done "$AGENT_PID"
check_eq blind.agent_saw_notify_200_and_bye "$(done_or_running "$AGENT_PID")" done
check_eq blind.agent_final_notify "$(grep -c 'notify SIP/2.0 200' "$T_DIR/agent.log")" 1
wait_for 1 10 pid_done "$TARGET_PID"
check_eq blind.target_completed "$(done_or_running "$TARGET_PID")" done
wait_for 1 10 records_closed 2
check_eq blind.two_voicecalls "$(rec 'length')" 2
first=$(key_in agent.log)
second=$(key_in target.log)
check_eq blind.first_leg_key "$(rec '.[0].vendorCallKey')" "$first"
check_eq blind.second_leg_key "$(rec '.[1].vendorCallKey')" "$second"
check_eq blind.transfer_leg "$(rec '.[1].create | "\(.initiationMethod)/\(.parentVoiceCallId)"')" "Transfer/$first"
check_eq blind.transfer_from_cc_number "$(rec '.[1].create | "\(.from)/\(.to)/\(.participants[0].participantKey)"')" "$NUMBER/$NUMBER/+15550199999"
check_eq blind.attributes_carried "$(rec '.[1].create.callAttributes | fromjson | .IvrLanguage__c')" en-US
check_eq blind.first_closed_by_transfer "$(rec '.[0].updates[0].body.disconnectReason.value')" AGENT_DISCONNECT
check_eq blind.second_closed_by_caller "$(rec '.[1].updates[0].body.disconnectReason.value')" CUSTOMER_DISCONNECT
check_eq blind.second_answered_at_transfer "$(rec '.[1] | .create.startTime == .updates[0].body.acceptTime')" true
check_eq blind.not_attended "$(grep -c 'replaces [^ ]' "$T_DIR/target.log")" 0

# ---- attended transfer: Refer-To carries Replaces ------------------------------------------
reset_case
sipp_target uas_target.xml -m 1
sipp_agent uas_refer.xml -m 1 -set refer_to "sip:8000@127.0.0.1:$TARGET_PORT?Replaces=consult-1%40pbx%3Bto-tag%3Dt1%3Bfrom-tag%3Df1"
sipp_caller uac_xfer.xml "$NUMBER" -m 1 -d 300
check_eq attended.caller_exit "$?" 0
wait_for 1 10 records_closed 2
check_eq attended.two_voicecalls "$(rec 'length')" 2
check_eq attended.replaces_sent "$(grep -c 'replaces consult-1@pbx;to-tag=t1;from-tag=f1' "$T_DIR/target.log")" 1
check_eq attended.transfer_leg "$(rec '.[1].create.initiationMethod')" Transfer

# ---- failed transfer: target busy, the caller stays with the agent, no orphan --------------
reset_case
sipp_target uas_busy.xml -m 1
sipp_agent uas_refer_fail.xml -m 1 -set refer_to "sip:8000@127.0.0.1:$TARGET_PORT"
sipp_caller uac_wait_bye.xml "$NUMBER" -m 1
check_eq failed.caller_stayed_then_agent_hung_up "$?" 0
check_eq failed.agent_told_of_failure "$(grep -cE 'notify SIP/2.0 [3-6][0-9]{2}' "$T_DIR/agent.log")" 1
wait_for 1 10 records_closed 1
check_eq failed.no_orphan_voicecall "$(rec 'length')" 1
check_eq failed.closed_by_agent "$(rec '.[0].updates[0].body.disconnectReason.value')" AGENT_DISCONNECT
check_eq failed.logged "$(grep -c 'transfer failed (SIP 486)' "$T_DIR/daemon.log")" 1

stop_daemon
check_eq clean_stop "$DAEMON_RC" 0
echo "transfer: $T_PASSED passed, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
