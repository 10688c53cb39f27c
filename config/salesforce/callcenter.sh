#!/usr/bin/env bash
# Writes the call center (contact center) definition file for one contact center of a
# scvbridge configuration, ready for Setup > Contact Centers > Import, and checks on the way
# what would otherwise fail later and silently in Salesforce:
#   - the certificate belongs to the contact center's private_key_file (else Salesforce
#     refuses every request's JWT with 401);
#   - call_center_api_name is a valid contact center internal name (letters and digits, at
#     most 40, starting with a letter);
#   - the connector URL is https, on the bridge's agent endpoint path, and its origin is in
#     agent_endpoint.allowed_origins (else every agent login is refused with 403).
#
# Usage: callcenter.sh CONFIG CONTACT_CENTER CERTIFICATE CONNECTOR_URL [VENDOR_INFO_NAME]
#   CONTACT_CENTER    the "name" of the contact center in CONFIG
#   CERTIFICATE       the PEM certificate made for the contact center's private key
#   CONNECTOR_URL     https://<bridge's public name>[:port]/connector/index.html
#   VENDOR_INFO_NAME  the ConversationVendorInfo developer name (default scvbridge; with a
#                     managed package's namespace: <ns>__scvbridge)
# Writes the XML on stdout. Exit status: 0 written, 1 a check failed (the reason on stderr),
# 2 usage.
set -u

die() {
	echo "callcenter.sh: $*" >&2
	exit 1
}

if [ $# -lt 4 ] || [ $# -gt 5 ]; then
	sed -n '12,18p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
fi
config=$1 cc=$2 cert=$3 url=$4 vendor=${5:-scvbridge}
command -v jq >/dev/null || die "needs jq (apt-get install jq)"
command -v openssl >/dev/null || die "needs openssl (apt-get install openssl)"
[ -r "$config" ] || die "$config: cannot read the configuration"
[ -r "$cert" ] || die "$cert: cannot read the certificate"
jq -e . "$config" >/dev/null 2>&1 || die "$config: not valid JSON (scvbridge -c $config --check says where)"

n=$(jq --arg cc "$cc" '[.contact_centers[]? | select(.name == $cc)] | length' "$config")
[ "$n" = 1 ] || die "$config: no contact center named \"$cc\" (names: $(jq -r '[.contact_centers[]?.name] | join(", ")' "$config"))"
api=$(jq -r --arg cc "$cc" '.contact_centers[] | select(.name == $cc) | .call_center_api_name // ""' "$config")
key=$(jq -r --arg cc "$cc" '.contact_centers[] | select(.name == $cc) | .private_key_file // ""' "$config")

[[ $api =~ ^[A-Za-z][A-Za-z0-9]{0,39}$ ]] ||
	die "call_center_api_name \"$api\": a contact center's internal name is 1 to 40 letters and digits, starting with a letter"
[[ $vendor =~ ^[A-Za-z][A-Za-z0-9_]{0,79}$ ]] || die "vendor info name \"$vendor\": letters, digits and underscores, starting with a letter"

# The certificate's public key must be the private key's.
cert_pub=$(openssl x509 -in "$cert" -noout -pubkey 2>/dev/null) || die "$cert: not a PEM certificate"
[ -r "$key" ] || die "$key (private_key_file of \"$cc\"): cannot read it, so cannot check the certificate against it"
key_pub=$(openssl pkey -in "$key" -pubout 2>/dev/null) || die "$key: not a PEM private key"
[ "$cert_pub" = "$key_pub" ] ||
	die "$cert is not the certificate of $key (private_key_file of \"$cc\"): Salesforce would refuse every request"
if ! openssl x509 -in "$cert" -noout -checkend 2592000 >/dev/null 2>&1; then
	echo "callcenter.sh: warning: $cert expires within 30 days" >&2
fi

# The connector URL: https, the endpoint's path, an origin the endpoint accepts.
[[ $url =~ ^https://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?/connector/[A-Za-z0-9._/-]*$ ]] ||
	die "connector URL \"$url\": expected https://<host>[:port]/connector/index.html"
origin=$(echo "$url" | sed -E 's|^(https://[^/]+)/.*|\1|' | tr 'A-Z' 'a-z')
origin_default=${origin%:443}
jq -e '.agent_endpoint' "$config" >/dev/null 2>&1 ||
	die "$config has no agent_endpoint block: the bridge serves no connector (config/README.md#agent_endpoint)"
if ! jq -r '.agent_endpoint.allowed_origins[]?' "$config" | tr 'A-Z' 'a-z' | sed 's|:443$||' |
	grep -qxF "$origin_default"; then
	die "origin $origin is not in agent_endpoint.allowed_origins: the bridge would refuse every login from the connector"
fi

# XML text: & < > escaped (the certificate and names have no quotes in element content).
esc() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'; }
pem=$(openssl x509 -in "$cert" | esc)
cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Contact center "$(echo "$cc" | esc)" on scvbridge: import in Setup > Contact Centers > Import. -->
<callCenter>
    <section sortOrder="0" name="reqGeneralInfo" label="General Information">
        <item sortOrder="0" name="reqInternalName" label="Internal Name">$api</item>
        <item sortOrder="1" name="reqDisplayName" label="Display Name">$(echo "$cc" | esc) on scvbridge</item>
        <item sortOrder="2" name="reqDescription" label="Description">SIP telephony through scvbridge</item>
        <item sortOrder="3" name="reqAdapterUrl" label="Adapter URL">$(echo "$url" | esc)</item>
        <item sortOrder="4" name="reqVendorInfoApiName" label="Conversation Vendor Info Developer Name">$vendor</item>
    </section>
    <section sortOrder="1" name="reqHvcc" label="SCV Settings">
        <item sortOrder="0" name="reqTelephonyIntegrationCertificate" label="Telephony Integration Certificate">$pem</item>
    </section>
</callCenter>
EOF
