#!/usr/bin/env bash
# make demo: one inbound call end to end on this machine.
#   SIPp caller -> scvbridge -> SIPp agent phone (answers), with the local Salesforce emulator
# and throw-away keys. Prints the VoiceCall as the emulator holds it, then stops everything.
set -u
. "$(dirname "$0")/lib.sh"
T_SUITE=demo
setup_env
say() { printf '\n== %s\n' "$*"; }

say "Throw-away PKI (CA, emulator certificate, contact-center RSA key + certificate)"
make_certs || exit 1
ls "$PKI" | sed 's/^/   /'

say "Salesforce emulator (JWT verified against the contact center's certificate)"
start_emulator || exit 1
echo "   https://localhost:$EMU_PORT/telephony/v1"

say "scvbridge"
CONFIG=$T_DIR/scvbridge.json
write_config "$CONFIG"
"$DAEMON" -c "$CONFIG" --check | sed "s|$T_DIR/||; s/^/   /"
start_daemon "$CONFIG" || exit 1
echo "   SIP on 127.0.0.1:$SIP_PORT, forwarding +15550100000 to sip:7000@127.0.0.1:$AGENT_PORT"

say "One call: caller +15550199999 dials +15550100000; the agent phone answers; 2 s of talk"
sipp_agent uas_answer.xml -m 1
sipp_caller uac_call.xml +15550100000 -m 1 -d 2000
rc=$?
echo "   SIPp caller exit status: $rc (0 = call completed)"
echo "   the agent phone's INVITE carried X-Vendor-Call-Key: $(sed -n 's/.*vendor-call-key //p' "$T_DIR/agent.log" | tail -1)"
wait_for 1 10 records_closed 1

say "The VoiceCall as Salesforce (the emulator) holds it"
emu GET /emulator/voiceCalls | jq '.[0] | {voiceCallId, vendorCallKey, state,
	create: (.create | .callAttributes |= fromjson), closingUpdate: .updates[0].body}'

say "What the daemon logged"
sed 's/^/   /' "$T_DIR/daemon.log"

say "Stopping"
stop_daemon
echo "   scvbridge exit status: $DAEMON_RC"
[ "$rc" -eq 0 ] && records_closed 1
