#!/usr/bin/env bash
# The Salesforce-side setup a vendor ships (config/salesforce/): the call center definition
# that config/salesforce/callcenter.sh writes from a configuration, and the templates. The
# written definition's certificate is what the emulator then verifies the bridge's JWTs with,
# so a definition that would fail in a real org fails here.
set -u
. "$(dirname "$0")/../lib.sh"
T_SUITE=salesforce_setup
setup_env
make_certs || exit 1
SF=config/salesforce
GEN=$SF/callcenter.sh
URL=https://bridge.test:8443/connector/index.html

# A configuration with an agent endpoint whose public origin is https://bridge.test:8443.
EMU_PORT=1
write_config "$T_DIR/base.json"
jq --arg pki "$PKI" '. + {agent_endpoint: {listen: "127.0.0.1:1", certificate_file: "\($pki)/server.pem",
	private_key_file: "\($pki)/server.key", web_root: "build/web",
	allowed_origins: ["https://bridge.test:8443", "https://other.test"]}}' "$T_DIR/base.json" >"$T_DIR/cfg.json"

# xml_item FILE NAME: the text of the callCenter item NAME (or the element NAME) in FILE.
xml_item() {
	python3 - "$1" "$2" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
for el in root.iter():
    tag = el.tag.split('}')[-1]
    if el.get('name') == sys.argv[2] or tag == sys.argv[2]:
        print((el.text or '').strip())
        break
EOF
}
fp() { openssl x509 -noout -fingerprint -sha256 "$@" 2>/dev/null; }

# ---- a good definition -------------------------------------------------------------------
bash "$GEN" "$T_DIR/cfg.json" acme "$PKI/cc.crt" "$URL" >"$T_DIR/cc.xml" 2>"$T_DIR/gen.err"
check_eq good.exit "$?" 0
check_eq good.well_formed "$(python3 -c 'import sys,xml.etree.ElementTree as E; E.parse(sys.argv[1]); print("yes")' "$T_DIR/cc.xml" 2>&1)" yes
check_eq good.internal_name "$(xml_item "$T_DIR/cc.xml" reqInternalName)" AcmeCC
check_eq good.adapter_url "$(xml_item "$T_DIR/cc.xml" reqAdapterUrl)" "$URL"
check_eq good.vendor_info "$(xml_item "$T_DIR/cc.xml" reqVendorInfoApiName)" scvbridge
xml_item "$T_DIR/cc.xml" reqTelephonyIntegrationCertificate >"$T_DIR/from_xml.crt"
check_eq good.certificate "$(fp -in "$T_DIR/from_xml.crt")" "$(fp -in "$PKI/cc.crt")"
# the test certificate is valid for 2 days: the operator is warned, the file is still written
check_eq good.expiry_warning "$(grep -c 'expires within 30 days' "$T_DIR/gen.err")" 1

# The certificate taken out of the written definition verifies the bridge's requests: one
# call, created and closed in the emulator configured from it.
start_emulator_from() {
	local ready=$T_DIR/emu.port i
	"$EMULATOR" --listen 127.0.0.1:0 --cert "$PKI/server.pem" --key "$PKI/server.key" \
		--call-center "AcmeCC:00D000000000001AAA:$1" --ready-file "$ready" 2>>"$T_DIR/emulator.log" &
	T_PIDS+=("$!")
	for i in $(seq 1 100); do
		[ -s "$ready" ] && break
		sleep 0.05
	done
	EMU_PORT=$(cat "$ready" 2>/dev/null)
	EMU_URL=https://localhost:$EMU_PORT
	[ -n "$EMU_PORT" ]
}
if start_emulator_from "$T_DIR/from_xml.crt"; then
	write_config "$T_DIR/run.json"
	start_daemon_or_exit "$T_DIR/run.json"
	sipp_agent uas_answer.xml -m 1
	sipp_caller uac_call.xml "$NUMBER" -m 1 -d 200
	check_eq jwt_verified.sipp_exit "$?" 0
	wait_for 1 10 records_closed 1
	check_eq jwt_verified.created_and_closed "$(rec '[.[] | select(.state == "completed")] | length')" 1
	check_eq jwt_verified.no_auth_failure "$(emu GET '/emulator/requests?limit=50' | jq '[.[] | select(.status == 401)] | length')" 0
else
	fail jwt_verified.emulator "emulator did not start"
fi

# ---- refused, with the reason --------------------------------------------------------------
# refused NAME PATTERN ARGS...: the generator exits 1, prints nothing on stdout and one line
# matching PATTERN on stderr.
refused() {
	local name=$1 pat=$2 out rc
	shift 2
	out=$(bash "$GEN" "$@" 2>"$T_DIR/err")
	rc=$?
	check_eq "$name.exit" "$rc" 1
	check_eq "$name.no_output" "${#out}" 0
	check_eq "$name.says_why" "$(grep -cE "$pat" "$T_DIR/err")" 1
}
# the certificate of another key: Salesforce would refuse every JWT
refused wrong_certificate 'is not the certificate of' "$T_DIR/cfg.json" acme "$PKI/server.pem" "$URL"
refused not_a_certificate 'not a PEM certificate' "$T_DIR/cfg.json" acme "$PKI/cc.key" "$URL"
# an origin the endpoint would refuse logins from
refused origin_not_allowed 'allowed_origins' "$T_DIR/cfg.json" acme "$PKI/cc.crt" https://elsewhere.test/connector/index.html
refused plain_http 'expected https' "$T_DIR/cfg.json" acme "$PKI/cc.crt" http://bridge.test:8443/connector/index.html
refused wrong_path 'expected https' "$T_DIR/cfg.json" acme "$PKI/cc.crt" https://bridge.test:8443/index.html
refused unknown_contact_center 'no contact center named "nope" \(names: acme\)' "$T_DIR/cfg.json" nope "$PKI/cc.crt" "$URL"
jq '.contact_centers[0].call_center_api_name = "Acme-CC"' "$T_DIR/cfg.json" >"$T_DIR/badname.json"
refused bad_internal_name 'internal name is 1 to 40' "$T_DIR/badname.json" acme "$PKI/cc.crt" "$URL"
jq 'del(.agent_endpoint)' "$T_DIR/cfg.json" >"$T_DIR/noendpoint.json"
refused no_agent_endpoint 'no agent_endpoint' "$T_DIR/noendpoint.json" acme "$PKI/cc.crt" "$URL"
refused vendor_name 'vendor info name' "$T_DIR/cfg.json" acme "$PKI/cc.crt" "$URL" 'bad name'
bash "$GEN" "$T_DIR/cfg.json" acme >/dev/null 2>"$T_DIR/usage.err"
check_eq usage.exit "$?" 2
check_eq usage.text "$(grep -c '^Usage: callcenter.sh CONFIG' "$T_DIR/usage.err")" 1

# ---- what is accepted ----------------------------------------------------------------------
# port 443 may be written or left out on either side; a namespaced vendor info name; a
# contact center whose name needs escaping in XML
jq '.agent_endpoint.allowed_origins = ["https://Bridge.test:443"] | .contact_centers[0].name = "R&D <west>"' \
	"$T_DIR/cfg.json" >"$T_DIR/amp.json"
bash "$GEN" "$T_DIR/amp.json" "R&D <west>" "$PKI/cc.crt" https://bridge.test/connector/index.html ns__scvbridge \
	>"$T_DIR/amp.xml" 2>/dev/null
check_eq default_port.exit "$?" 0
check_eq escaped.display_name "$(xml_item "$T_DIR/amp.xml" reqDisplayName)" "R&D <west> on scvbridge"
check_eq namespaced.vendor_info "$(xml_item "$T_DIR/amp.xml" reqVendorInfoApiName)" ns__scvbridge

# ---- the shipped templates agree with each other and with what the bridge serves ------------
CVI=$SF/package/force-app/main/default/ConversationVendorInformation/scvbridge.ConversationVendorInformation-meta.xml
TPL=$SF/callcenter/scvbridge-callcenter.xml
check_eq templates.vendor_info_name "$(xml_item "$TPL" reqVendorInfoApiName)" "$(xml_item "$CVI" developerName)"
check_eq templates.adapter_url "$(xml_item "$TPL" reqAdapterUrl)" "$(xml_item "$CVI" connectorUrl)"
page=$(xml_item "$CVI" connectorUrl | sed -E 's|^https://[^/]+/connector/||')
check_eq templates.page_is_built "$(test -f "build/web/$page" && echo yes)" yes
check_eq templates.custom_login "$(xml_item "$CVI" clientAuthMode)" Custom
check_eq templates.sfdx_project "$(jq -r '.packageDirectories[0].path' "$SF/package/sfdx-project.json")" force-app
