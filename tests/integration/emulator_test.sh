#!/usr/bin/env bash
# Tests of the Salesforce emulator (build/scv-emulator) on its own, over loopback HTTPS with
# curl and jq: JWT checks, create/update validation and state, duplicates, transcripts,
# omniFlow, faults (status, Retry-After, latency, drops), refusing connections, the request log,
# HTTP limits and a clean SIGTERM exit (leak-free under SANITIZE=1).
#
#   BUILD_DIR=build/emu tests/integration/emulator_test.sh
#
# Prints "PASS emulator/<name>" or "FAIL emulator/<name>: <why>" per assertion; exits 1 if any
# failed.
set -u

BUILD_DIR=${BUILD_DIR:-build}
EMU=${EMU:-$BUILD_DIR/scv-emulator}
ORG=00Dxx0000001gEH
CC=AcmeCC
FAILED=0
EMU_PID=
T=$(mktemp -d "${TMPDIR:-/tmp}/emulator-test.XXXXXX")

cleanup() {
	if [ -n "$EMU_PID" ] && kill -0 "$EMU_PID" 2>/dev/null; then
		kill -KILL "$EMU_PID" 2>/dev/null
		wait "$EMU_PID" 2>/dev/null
	fi
	jobs -p | xargs -r kill 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pass() { echo "PASS emulator/$1"; }
fail() { echo "FAIL emulator/$1: $2"; FAILED=1; }
# check NAME CONDITION-EXIT-STATUS WHY
check() { if [ "$2" -eq 0 ]; then pass "$1"; else fail "$1" "$3"; fi; }

if [ ! -x "$EMU" ]; then
	fail setup "no emulator binary at $EMU"
	exit 1
fi

# --- key material -------------------------------------------------------------------------
gen_keys() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" \
		-subj /CN=emulator-test-ca -days 2 &&
	openssl req -newkey rsa:2048 -nodes -keyout "$T/server.key" -out "$T/server.csr" \
		-subj /CN=localhost &&
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n' >"$T/san.ext" &&
	openssl x509 -req -in "$T/server.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
		-CAcreateserial -days 2 -sha256 -extfile "$T/san.ext" -out "$T/server.pem" &&
	openssl genrsa -out "$T/cc.key" 2048 &&
	openssl req -new -x509 -key "$T/cc.key" -subj /CN=AcmeCC -days 2 -sha256 \
		-out "$T/cc.pem" &&
	openssl genrsa -out "$T/other.key" 2048 &&
	openssl genrsa -out "$T/cc2.key" 2048 &&
	openssl rsa -in "$T/cc2.key" -pubout -out "$T/cc2.pub"
}
if ! gen_keys >"$T/openssl.log" 2>&1; then
	fail setup "openssl key generation failed: $(tail -3 "$T/openssl.log")"
	exit 1
fi

# --- emulator -----------------------------------------------------------------------------
"$EMU" --listen localhost:0 --cert "$T/server.pem" --key "$T/server.key" \
	--call-center "$CC:$ORG:$T/cc.pem" --call-center "OtherCC:00Dxx0000002XYZ:$T/cc2.pub" \
	--ready-file "$T/ready" --log-requests 2>"$T/emulator.log" &
EMU_PID=$!
for _ in $(seq 1 100); do
	[ -s "$T/ready" ] && break
	kill -0 "$EMU_PID" 2>/dev/null || break
	sleep 0.1
done
if [ ! -s "$T/ready" ]; then
	fail setup "emulator not ready: $(tail -5 "$T/emulator.log")"
	exit 1
fi
PORT=$(head -n1 "$T/ready")
BASE="https://localhost:$PORT"
pass startup

# --- helpers ------------------------------------------------------------------------------
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now() { date +%s; }
ms() { date +%s%3N; }

# mint ISS SUB EXP IAT JTI KEY -> a signed RS256 JWT (JTI "" = none)
mint() {
	local hdr payload sig
	hdr=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
	payload=$(jq -cn --arg iss "$1" --arg sub "$2" --argjson exp "$3" --argjson iat "$4" \
		--arg jti "$5" '{iss:$iss, sub:$sub, iat:$iat, exp:$exp}
			+ (if $jti == "" then {} else {jti:$jti} end)' | b64url)
	sig=$(printf '%s.%s' "$hdr" "$payload" | openssl dgst -sha256 -sign "$6" -binary | b64url)
	printf '%s.%s.%s' "$hdr" "$payload" "$sig"
}

TOKEN=$(mint "$ORG" "$CC" $(($(now) + 300)) "$(now)" "" "$T/cc.key")

# api METHOD PATH [BODY] [TOKEN] [CONTENT-TYPE]: sets STATUS, RESP, CURL_RC; headers in $T/headers
api() {
	local method=$1 path=$2 body=${3-} tok=${4-$TOKEN} ctype=${5-application/json}
	local args=(-sS --cacert "$T/ca.pem" --max-time 10 -o "$T/body" -D "$T/headers"
		-w '%{http_code}' -X "$method" -H "Telephony-Provider-Name: scvbridge-test")
	[ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
	[ -n "$body" ] && args+=(-H "Content-Type: $ctype" --data-binary "$body")
	rm -f "$T/body" "$T/headers"
	STATUS=$(curl "${args[@]}" "$BASE/telephony/v1$path" 2>"$T/curl.err")
	CURL_RC=$?
	RESP=$(cat "$T/body" 2>/dev/null)
}

# ctl METHOD PATH [BODY]: the control API; sets STATUS, RESP, CURL_RC
ctl() {
	local args=(-sS --cacert "$T/ca.pem" --max-time 10 -o "$T/cbody" -w '%{http_code}' -X "$1")
	[ -n "${3-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	rm -f "$T/cbody"
	STATUS=$(curl "${args[@]}" "$BASE/emulator$2" 2>"$T/curl.err")
	CURL_RC=$?
	RESP=$(cat "$T/cbody" 2>/dev/null)
}

# create_body KEY [EXTRA-JQ-FILTER]
create_body() {
	jq -cn --arg key "$1" --arg cc "$CC" '{
		callCenterApiName: $cc, vendorCallKey: $key, to: "+15550100000",
		from: "+15550199999", initiationMethod: "Inbound",
		startTime: "2026-01-15T10:00:00Z", callSubtype: "PSTN",
		participants: [{participantKey: "+15550199999", type: "END_USER"}],
		callAttributes: "{\"SourceType\":\"Service\"}"
	}'"${2:+ | $2}"
}

record() { # record KEY: the records with that vendorCallKey, as JSON
	ctl GET "/voiceCalls?vendorCallKey=$(jq -rn --arg k "$1" '$k|@uri')"
	printf '%s' "$RESP"
}

has_field_error() { # has_field_error FIELD: the last answer is a 400 naming FIELD
	[ "$STATUS" = 400 ] &&
		printf '%s' "$RESP" | jq -e --arg f "$1" 'any(.errors[]; .field == $f)' >/dev/null
}

# --- create -------------------------------------------------------------------------------
api POST /voiceCalls "$(create_body call-0001)"
ID1=$(printf '%s' "$RESP" | jq -r '.voiceCallId // empty' 2>/dev/null)
[ "$STATUS" = 200 ] && [[ "$ID1" =~ ^0LQ[0-9A-Za-z]{15}$ ]] &&
	[ "$(printf '%s' "$RESP" | jq -c .errors)" = "[]" ]
check create_ok $? "status $STATUS body $RESP"

# --- authentication -----------------------------------------------------------------------
api POST /voiceCalls "$(create_body call-auth)" "$(mint "$ORG" "$CC" $(($(now) + 300)) "$(now)" "" "$T/other.key")"
[ "$STATUS" = 401 ] && [ "$(printf '%s' "$RESP" | jq -r .errorCode)" = INVALID_AUTH ]
check auth_bad_signature $? "status $STATUS body $RESP"

api POST /voiceCalls "$(create_body call-auth)" "$(mint 00Dxx000000WRONG "$CC" $(($(now) + 300)) "$(now)" "" "$T/cc.key")"
[ "$STATUS" = 401 ]
check auth_wrong_iss $? "status $STATUS body $RESP"

api POST /voiceCalls "$(create_body call-auth)" "$(mint "$ORG" "$CC" $(($(now) - 3600)) $(($(now) - 3900)) "" "$T/cc.key")"
[ "$STATUS" = 401 ] && printf '%s' "$RESP" | grep -q expired
check auth_expired $? "status $STATUS body $RESP"

api POST /voiceCalls "$(create_body call-auth)" "$(mint "$ORG" UnknownCC $(($(now) + 300)) "$(now)" "" "$T/cc.key")"
[ "$STATUS" = 401 ]
check auth_unknown_sub $? "status $STATUS body $RESP"

api POST /voiceCalls "$(create_body call-auth)" "$(mint "$ORG" "$CC" $(($(now) + 200000)) "$(now)" "" "$T/cc.key")"
[ "$STATUS" = 401 ]
check auth_lifetime_too_long $? "status $STATUS body $RESP"

api POST /voiceCalls "$(create_body call-auth)" ""
[ "$STATUS" = 401 ]
check auth_missing $? "status $STATUS body $RESP"

JTI_TOKEN=$(mint "$ORG" "$CC" $(($(now) + 300)) "$(now)" "jti-$$-1" "$T/cc.key")
api POST /voiceCalls "$(create_body call-jti)" "$JTI_TOKEN"
first=$STATUS
api PATCH /voiceCalls/call-jti '{"isActiveCall":true}' "$JTI_TOKEN"
[ "$first" = 200 ] && [ "$STATUS" = 401 ] && printf '%s' "$RESP" | grep -q replay
check auth_replayed_jti $? "first $first, replay $STATUS $RESP"

# The second call center is configured with a bare PUBLIC KEY and another org.
api POST /voiceCalls "$(create_body call-other | jq -c '.callCenterApiName = "OtherCC"')" \
	"$(mint 00Dxx0000002XYZ OtherCC $(($(now) + 300)) "$(now)" "" "$T/cc2.key")"
[ "$STATUS" = 200 ]
check auth_public_key_pem $? "status $STATUS body $RESP"
api PATCH /voiceCalls/call-other '{"isActiveCall":true}'
[ "$STATUS" = 404 ]
check records_scoped_to_org $? "another org's record was reachable: $STATUS"

# --- create validation --------------------------------------------------------------------
api POST /voiceCalls "$(create_body call-bad 'del(.to)')"
has_field_error to
check create_missing_field $? "status $STATUS body $RESP"

api POST /voiceCalls "$(create_body call-bad '.callAttributes = {"SourceType":"Service"}')"
has_field_error callAttributes
check create_call_attributes_object $? "status $STATUS body $RESP"

api POST /voiceCalls "$(create_body call-bad '.startTime = "yesterday" | .initiationMethod = "Outbound" | .bogus = 1')"
has_field_error startTime && has_field_error initiationMethod && has_field_error bogus
check create_lists_every_bad_field $? "status $STATUS body $RESP"

api POST /voiceCalls "$(create_body call-bad '.participants = [{participantKey: "x", type: "HUMAN_AGENT"}]')"
has_field_error 'participants[0].type'
check create_participant_type $? "status $STATUS body $RESP"

api POST /voiceCalls "$(create_body call-bad '.callCenterApiName = "OtherCC"')"
has_field_error callCenterApiName
check create_cc_must_match_sub $? "status $STATUS body $RESP"

api POST /voiceCalls "$(create_body "$(printf 'k%.0s' $(seq 1 256))")"
has_field_error vendorCallKey
check create_key_too_long $? "status $STATUS"

api POST /voiceCalls "$(create_body call-t1 '.initiationMethod = "Transfer"')"
has_field_error parentVoiceCallId
check create_transfer_needs_parent $? "status $STATUS body $RESP"

api POST /voiceCalls "$(create_body call-0001)" "$TOKEN" text/plain
[ "$STATUS" = 415 ]
check create_content_type_415 $? "status $STATUS"

api POST /voiceCalls '{"vendorCallKey":'
[ "$STATUS" = 400 ]
check create_not_json $? "status $STATUS"

# --- duplicate create and transfer chain --------------------------------------------------
api POST /voiceCalls "$(create_body call-0001)"
[ "$STATUS" = 200 ] && [ "$(printf '%s' "$RESP" | jq -r .voiceCallId)" = "$ID1" ] &&
	[ "$(record call-0001 | jq 'length')" = 1 ] &&
	[ "$(record call-0001 | jq '.[0].duplicateCreates')" = 1 ]
check duplicate_inbound_create $? "status $STATUS body $RESP records $(record call-0001)"

api POST /voiceCalls "$(create_body call-0001 ".initiationMethod = \"Transfer\" | .parentVoiceCallId = \"$ID1\"")"
ID1B=$(printf '%s' "$RESP" | jq -r '.voiceCallId // empty')
[ "$STATUS" = 200 ] && [ -n "$ID1B" ] && [ "$ID1B" != "$ID1" ] &&
	[ "$(record call-0001 | jq -c '[.[].parentVoiceCallId]')" = "[null,\"$ID1\"]" ]
check transfer_same_key_chains $? "status $STATUS records $(record call-0001)"

# --- update -------------------------------------------------------------------------------
KEY2='call:0002/x'
api POST /voiceCalls "$(create_body "$KEY2")"
ID2=$(printf '%s' "$RESP" | jq -r '.voiceCallId // empty')
api PATCH "/voiceCalls/call%3A0002%2Fx" '{"acceptTime":"2026-01-15T10:01:00Z","isActiveCall":true}'
s1=$STATUS
state1=$(record "$KEY2" | jq -r '.[0].state')
api PATCH "/voiceCalls/$ID2" '{"startTime":"2026-01-15T10:00:00Z","endTime":"2026-01-15T10:07:30.123Z","totalHoldDuration":30,"longestHoldDuration":30,"numberOfHolds":1,"agentInteractionDuration":360,"recordingLocation":"https://rec.example.net/r/abc.wav","totalRecordingDuration":390,"isActiveCall":false,"disconnectReason":{"value":"CUSTOMER_DISCONNECT","isError":false}}'
[ "$s1" = 200 ] && [ "$state1" = in-progress ] && [ "$STATUS" = 200 ] &&
	[ "$(printf '%s' "$RESP" | jq -r .status)" = pending ] &&
	[ "$(record "$KEY2" | jq -r '.[0].state')" = completed ] &&
	[ "$(record "$KEY2" | jq '.[0].updates | length')" = 2 ]
check update_by_key_and_id $? "s1=$s1 state1=$state1 s2=$STATUS $(record "$KEY2" | jq -c '.[0] | {state, updates}')"

api PATCH "/voiceCalls/$ID2" '{"isActiveCall":false}'
[ "$STATUS" = 200 ] && [ "$(record "$KEY2" | jq '.[0].updatesAfterClose')" = 1 ]
check update_after_close_counted $? "status $STATUS"

api PATCH /voiceCalls/no-such-call '{"isActiveCall":false}'
[ "$STATUS" = 404 ] && [ "$(printf '%s' "$RESP" | jq -r '.errors[0].errorCode')" = NOT_FOUND ]
check update_unknown_404 $? "status $STATUS body $RESP"

api PATCH "/voiceCalls/$ID1" '{"totalHoldDuration":30}'
has_field_error recordingLocation
check update_hold_needs_recording $? "status $STATUS body $RESP"

api PATCH "/voiceCalls/$ID1" '{"numberOfHolds":-1,"isActiveCall":"yes","disconnectReason":{"value":"X"},"acceptTime":"","color":"red"}'
has_field_error numberOfHolds && has_field_error isActiveCall &&
	has_field_error disconnectReason.isError && has_field_error color &&
	! has_field_error acceptTime
check update_validation $? "status $STATUS body $RESP"

# --- transcripts --------------------------------------------------------------------------
START_MS=1768471200000 # 2026-01-15T10:00:00Z
msg() { # msg ID START_OFFSET_MS
	jq -cn --arg id "$1" --argjson s $((START_MS + $2)) '{messageId: $id,
		senderType: "END_USER", participantId: "call-0003END_USER",
		startTime: $s, endTime: ($s + 1000), content: "I need to change my order."}'
}
api POST /voiceCalls "$(create_body call-0003)"
ID3=$(printf '%s' "$RESP" | jq -r '.voiceCallId // empty')
api POST /voiceCalls/call-0003/messages "$(msg m-1 5000)"
[ "$STATUS" = 200 ] && [ "$(printf '%s' "$RESP" | jq -r .result)" = Accepted ]
check transcript_ok $? "status $STATUS body $RESP"

api POST /voiceCalls/call-0003/messages "$(msg m-1 5000)"
[ "$STATUS" = 200 ] && [ "$(record call-0003 | jq '.[0].duplicateMessages')" = 1 ] &&
	[ "$(record call-0003 | jq '.[0].transcripts | length')" = 1 ]
check transcript_duplicate_counted $? "status $STATUS"

api POST "/voiceCalls/$ID3/messages" "$(msg m-2 6000)"
[ "$STATUS" = 400 ]
check transcript_rejects_voicecallid $? "status $STATUS body $RESP"

api POST /voiceCalls/no-such-call/messages "$(msg m-2 6000)"
[ "$STATUS" = 404 ]
check transcript_unknown_404 $? "status $STATUS"

api POST /voiceCalls/call-0003/messages "$(msg m-3 -600000)"
has_field_error startTime
check transcript_outside_window $? "status $STATUS body $RESP"

bulk=$(jq -cn --argjson m "$(msg m-4 7000)" '{entries: [range(6) | {vendorCallKey: "call-0003", messages: [$m]}]}')
api POST /voiceCalls/messages "$bulk"
[ "$STATUS" = 400 ]
check bulk_too_many_entries $? "status $STATUS"

bulk=$(jq -cn --argjson a "$(msg m-5 8000)" --argjson b "$(msg m-6 9000)" '{entries: [{vendorCallKey: "call-0003", messages: [$a, $b]}]}')
api POST /voiceCalls/messages "$bulk"
[ "$STATUS" = 200 ] && [ "$(record call-0003 | jq '.[0].transcripts | length')" = 3 ]
check bulk_ok $? "status $STATUS body $RESP"

# --- omniFlow and clearRouting ------------------------------------------------------------
ctl POST /omniFlow '{"dialedNumber":"+15550100000","response":{"agent":"ext-7001","queue":null}}'
api PATCH /voiceCalls/call-0003/omniFlow '{"dialedNumber":"+15550100000","flowInputParameters":{"lang":"en"}}'
[ "$STATUS" = 200 ] && [ "$(printf '%s' "$RESP" | jq -r .agent)" = ext-7001 ] &&
	[ "$(record call-0003 | jq -r '.[0].omniFlow[0].dialedNumber')" = +15550100000 ]
check omniflow_configured $? "status $STATUS body $RESP"

api PATCH /voiceCalls/call-0003/omniFlow '{"dialedNumber":"+15550111111"}'
[ "$STATUS" = 200 ] && [ "$RESP" = '{}' ]
check omniflow_default $? "status $STATUS body $RESP"

api PATCH /voiceCalls/call-0003/clearRouting 'null'
s1=$STATUS
api PATCH "/voiceCalls/$ID3/clearRouting"
[ "$s1" = 200 ] && [ "$STATUS" = 200 ] && [ "$(record call-0003 | jq '.[0].clearRouting')" = 2 ]
check clear_routing $? "status $s1/$STATUS"

api GET /voiceCalls/call-0003
[ "$STATUS" = 404 ]
check unknown_endpoint_404 $? "status $STATUS"

# --- a VoiceCall Salesforce makes from a connector's CALL_STARTED ---------------------------
ctl POST /connectorCalls "$(jq -cn --arg o "$ORG" --arg c "$CC" '{org: $o, callCenterApiName: $c, vendorCallKey: "out-0001", callType: "Outbound", phoneNumber: "+15550102222"}')"
OUT_ID=$(printf '%s' "$RESP" | jq -r '.voiceCallId // empty')
[ "$STATUS" = 200 ] && [ "${OUT_ID:0:3}" = 0LQ ] &&
	[ "$(record out-0001 | jq -r '.[0].create.initiationMethod')" = Outbound ]
check connector_call_created $? "status $STATUS body $RESP"

api PATCH /voiceCalls/out-0001 '{"endTime":"2026-01-01T00:01:00.000Z","disconnectReason":{"value":"AGENT_DISCONNECT","isError":false}}'
[ "$STATUS" = 200 ] && [ "$(record out-0001 | jq '.[0].updates | length')" = 1 ]
check connector_call_closed_by_key $? "status $STATUS body $RESP"

ctl POST /connectorCalls "$(jq -cn --arg o "$ORG" --arg c "$CC" '{org: $o, callCenterApiName: $c, vendorCallKey: "out-0001", callType: "Outbound", phoneNumber: "+15550102222"}')"
[ "$STATUS" = 200 ] && [ "$(printf '%s' "$RESP" | jq -r .voiceCallId)" = "$OUT_ID" ] &&
	[ "$(printf '%s' "$RESP" | jq -r .existing)" = true ] && [ "$(record out-0001 | jq length)" = 1 ]
check connector_call_existing_key $? "status $STATUS body $RESP"

ctl POST /connectorCalls '{"org":"00Dxx0000001gEH","vendorCallKey":"x","callType":"Sideways","phoneNumber":"1"}'
[ "$STATUS" = 400 ]
check connector_call_bad_spec $? "status $STATUS body $RESP"

# --- faults -------------------------------------------------------------------------------
ctl POST /faults '{"match":"POST /voiceCalls$","status":503,"count":1}'
fid=$(printf '%s' "$RESP" | jq -r '.id // empty')
api POST /voiceCalls "$(create_body call-0004)"
s1=$STATUS
n1=$(record call-0004 | jq length)
api POST /voiceCalls "$(create_body call-0004)"
[ -n "$fid" ] && [ "$s1" = 503 ] && [ "$n1" = 0 ] && [ "$STATUS" = 200 ] &&
	[ "$(record call-0004 | jq length)" = 1 ]
check fault_503_then_success $? "fault=$fid first=$s1 records=$n1 second=$STATUS"

ctl POST /faults '{"status":429,"retryAfter":5,"count":1}'
api PATCH /voiceCalls/call-0004 '{"isActiveCall":true}'
[ "$STATUS" = 429 ] && grep -qi '^Retry-After: 5' "$T/headers"
check fault_429_retry_after $? "status $STATUS headers $(tr -d '\r' <"$T/headers" | tr '\n' '|')"

ctl POST /faults '{"match":"PATCH /voiceCalls","latencyMs":1500,"count":1}'
t0=$(ms)
( api PATCH /voiceCalls/call-0004 '{"isActiveCall":true}'; echo "$STATUS $(($(ms) - t0))" >"$T/slow" ) &
slow_pid=$!
sleep 0.3
t1=$(ms)
ctl GET /ping
fast_status=$STATUS
fast=$(($(ms) - t1))
api POST /voiceCalls "$(create_body call-0005)"
fast_api=$STATUS
wait "$slow_pid"
read -r slow_status slow_ms <"$T/slow"
[ "$slow_status" = 200 ] && [ "$slow_ms" -ge 1500 ] && [ "$fast_status" = 200 ] &&
	[ "$fast_api" = 200 ] && [ "$fast" -lt 1000 ]
check fault_latency_not_blocking $? "slow=$slow_status in ${slow_ms}ms, other=$fast_status in ${fast}ms"

ctl POST /faults '{"match":"POST /voiceCalls$","drop":"after","count":1}'
api POST /voiceCalls "$(create_body call-0006)"
[ "$CURL_RC" != 0 ] && [ "$(record call-0006 | jq length)" = 1 ]
check fault_drop_after $? "curl rc $CURL_RC status $STATUS records $(record call-0006 | jq length)"

ctl POST /faults '{"match":"POST /voiceCalls$","drop":"before","count":1}'
api POST /voiceCalls "$(create_body call-0007)"
[ "$CURL_RC" != 0 ] && [ "$(record call-0007 | jq length)" = 0 ]
check fault_drop_before $? "curl rc $CURL_RC records $(record call-0007 | jq length)"

ctl POST /faults '{"status":500}'
ctl DELETE /faults
api POST /voiceCalls "$(create_body call-0008)"
[ "$STATUS" = 200 ]
check faults_cleared $? "status $STATUS"

ctl POST /faults '{"drop":"sideways"}'
[ "$STATUS" = 400 ]
check fault_spec_validated $? "status $STATUS"

# --- refusing connections -----------------------------------------------------------------
ctl POST /listen '{"accept":false}'
s1=$STATUS
ctl GET /ping
rc_refused=$CURL_RC
kill -USR1 "$EMU_PID"
for _ in $(seq 1 50); do
	ctl GET /ping
	[ "$STATUS" = 200 ] && break
	sleep 0.1
done
[ "$s1" = 200 ] && [ "$rc_refused" = 7 ] && [ "$STATUS" = 200 ]
check listen_refuse_and_reopen $? "stop=$s1 refused-rc=$rc_refused again=$STATUS"

ctl POST /listen '{"accept":false,"forMs":800}'
ctl GET /ping
rc_refused=$CURL_RC
sleep 1.2
ctl GET /ping
[ "$rc_refused" = 7 ] && [ "$STATUS" = 200 ]
check listen_refuse_for_a_while $? "refused-rc=$rc_refused later=$STATUS"

ctl POST /listen '{"accept":true}'
[ "$STATUS" = 200 ]
check listen_accept_when_listening $? "status $STATUS"

# --- request log and stats ----------------------------------------------------------------
ctl GET '/requests?limit=5'
[ "$STATUS" = 200 ] && [ "$(printf '%s' "$RESP" | jq length)" = 5 ] &&
	printf '%s' "$RESP" | jq -e 'all(.[]; .headers["telephony-provider-name"] == "scvbridge-test")' >/dev/null &&
	printf '%s' "$RESP" | jq -e '.[-1].jwt.sub == "AcmeCC" and .[-1].jwt.iss == "00Dxx0000001gEH"' >/dev/null &&
	! printf '%s' "$RESP" | grep -q "${TOKEN##*.}"
check requests_log $? "status $STATUS body $(printf '%s' "$RESP" | head -c 400)"

ctl GET /stats
printf '%s' "$RESP" | jq -e '.creates >= 8 and .duplicateCreates == 1 and .faultsInjected >= 5
	and .byStatus["401"] >= 6 and .byStatus["200"] >= 10 and .openConnections >= 1' >/dev/null
check stats $? "$RESP"

# --- HTTP: keep-alive, pipelining, limits -------------------------------------------------
ctl POST /reset
curl -sS --cacert "$T/ca.pem" --max-time 10 -o /dev/null -o /dev/null -o /dev/null \
	"$BASE/emulator/ping" "$BASE/emulator/ping" "$BASE/emulator/ping" 2>/dev/null
ctl GET /stats
[ "$(printf '%s' "$RESP" | jq .connections)" = 2 ] && [ "$(printf '%s' "$RESP" | jq .requests)" = 0 ]
check keep_alive_reuse $? "$RESP"

printf 'GET /emulator/ping HTTP/1.1\r\nHost: x\r\n\r\nGET /emulator/ping HTTP/1.1\r\nHost: x\r\n\r\nGET /emulator/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
	timeout 10 openssl s_client -quiet -ign_eof -connect "127.0.0.1:$PORT" -CAfile "$T/ca.pem" \
		>"$T/pipelined" 2>/dev/null
codes=$(grep -ao 'HTTP/1.1 [0-9]*' "$T/pipelined" | awk '{print $2}' | tr '\n' ' ')
[ "$codes" = "200 200 404 " ]
check pipelining_in_order $? "status codes in order: $codes"

st=$(curl -sS --cacert "$T/ca.pem" --max-time 10 -o /dev/null -w '%{http_code}' \
	-H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
	-H "Authorization: Bearer $TOKEN" --data-binary '{}' "$BASE/telephony/v1/voiceCalls" 2>/dev/null)
[ "$st" = 411 ]
check chunked_411 $? "status $st"

head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' 'a' >"$T/big"
st=$(curl -sS --cacert "$T/ca.pem" --max-time 10 -o /dev/null -w '%{http_code}' \
	-H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
	--data-binary @"$T/big" "$BASE/telephony/v1/voiceCalls" 2>/dev/null)
[ "$st" = 413 ]
check body_too_large_413 $? "status $st"

st=$(curl -sS --cacert "$T/ca.pem" --max-time 10 -o /dev/null -w '%{http_code}' \
	-H "X-Big: $(head -c 17000 /dev/zero | tr '\0' 'b')" "$BASE/emulator/ping" 2>/dev/null)
[ "$st" = 431 ]
check headers_too_large_431 $? "status $st"

st=$(curl -sS --cacert "$T/ca.pem" --max-time 10 -o /dev/null -D "$T/headers" -w '%{http_code}' \
	-H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" -H 'Expect: 100-continue' \
	--data-binary "$(create_body call-big '.callAttributes = ({pad: ("x" * 4000)} | tojson)')" \
	"$BASE/telephony/v1/voiceCalls" 2>/dev/null)
[ "$st" = 200 ] && grep -q '^HTTP/1.1 100' "$T/headers"
check body_with_expect_continue $? "status $st headers $(tr -d '\r' <"$T/headers" | tr '\n' '|')"

ctl GET /voiceCalls
[ "$STATUS" = 200 ] && [ "$(printf '%s' "$RESP" | jq 'length')" = 1 ] &&
	[ "$(printf '%s' "$RESP" | jq -r '.[0].vendorCallKey')" = call-big ]
check reset_dropped_records $? "$(printf '%s' "$RESP" | head -c 200)"

# --- shutdown -----------------------------------------------------------------------------
kill -TERM "$EMU_PID"
for _ in $(seq 1 100); do
	kill -0 "$EMU_PID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$EMU_PID" 2>/dev/null; then
	fail sigterm_exit "still running 10 s after SIGTERM"
else
	wait "$EMU_PID"
	rc=$?
	EMU_PID=
	[ "$rc" = 0 ] && ! grep -qE 'Sanitizer|runtime error' "$T/emulator.log"
	check sigterm_clean_exit $? "exit $rc; $(grep -E -m3 'Sanitizer|runtime error|SUMMARY' "$T/emulator.log")"
fi
if grep -q ' error ' "$T/emulator.log"; then
	fail no_errors_logged "$(grep -m3 ' error ' "$T/emulator.log")"
else
	pass no_errors_logged
fi

exit "$FAILED"
