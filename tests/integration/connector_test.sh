#!/usr/bin/env bash
# The browser connector in a real browser: headless Chromium opens a stand-in Salesforce page
# on https://test.lightning.force.com that embeds the connector (build/web, from `make web`)
# served by a scripted agent peer on https://bridge.scvbridge.test, both on loopback. The test
# CA is trusted through an NSS database in a private HOME, not by ignoring certificate errors.
# Screenshots (login page, host event log) go to $TEST_OUT (default build/test-output/connector).
set -u
. "$(dirname "$0")/../lib.sh"
T_SUITE=connector
setup_env
WEB=$SCVB_ROOT/build/web
OUT=${TEST_OUT:-$SCVB_ROOT/build/test-output/connector}
mkdir -p "$OUT"
rm -f "$OUT"/*.png

for tool in node /usr/bin/chromium certutil openssl; do
	command -v "$tool" >/dev/null || { fail setup "$tool is missing (make deps)"; exit 1; }
done
[ -s "$WEB/connector.js" ] || { fail setup "no $WEB/connector.js (make web)"; exit 1; }
[ -d "$SCVB_ROOT/scv/web/node_modules/playwright-core" ] || { fail setup "no playwright-core (make web)"; exit 1; }

# The socket client's edge cases, in Node with a fake WebSocket.
node "$SCVB_ROOT/tests/browser/socket_check.mjs" "$T_SUITE" >"$T_DIR/socket.out" 2>&1
rc=$?
cat "$T_DIR/socket.out"
[ "$rc" -eq 0 ] || grep -q '^FAIL ' "$T_DIR/socket.out" || fail socket_check "exited with status $rc"

# The Salesforce emulator: the stand-in page's backend asks it for the VoiceCall Salesforce
# makes from a connector's CALL_STARTED of an outbound call.
make_certs || { fail setup "make_certs failed"; exit 1; }
start_emulator || { fail setup "emulator did not start"; exit 1; }

# A test CA and one server certificate for both names.
WEB_PKI=$T_DIR/webpki
mkdir -p "$WEB_PKI"
(
	cd "$WEB_PKI" || exit 1
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
		-subj "/CN=scvbridge browser test CA" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null &&
		openssl req -newkey rsa:2048 -nodes -keyout web.key -out web.csr -subj "/CN=test.lightning.force.com" 2>/dev/null &&
		printf '%s\n' 'subjectAltName=DNS:test.lightning.force.com,DNS:bridge.scvbridge.test' \
			'basicConstraints=CA:FALSE' 'keyUsage=digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' >ext.cnf &&
		openssl x509 -req -in web.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out web.pem -days 2 \
			-extfile ext.cnf 2>/dev/null
) || { fail setup "openssl failed"; exit 1; }

# Chromium on Linux reads the user's NSS database: trust the test CA there, in a private HOME.
HOME_DIR=$T_DIR/home
mkdir -p "$HOME_DIR/.pki/nssdb"
certutil -N -d "sql:$HOME_DIR/.pki/nssdb" --empty-password &&
	certutil -A -d "sql:$HOME_DIR/.pki/nssdb" -n "scvbridge browser test CA" -t "C,," -i "$WEB_PKI/ca.pem" ||
	{ fail setup "certutil failed"; exit 1; }

timeout 180 node "$SCVB_ROOT/tests/browser/driver.mjs" --pki "$WEB_PKI" --home "$HOME_DIR" \
	--profile "$T_DIR/profile" --web "$WEB" --out "$OUT" --suite "$T_SUITE" \
	--emulator "$EMU_URL" --emu-ca "$PKI/ca.pem" >"$T_DIR/driver.out" 2>&1
rc=$?
cat "$T_DIR/driver.out"
T_PASSED=$((T_PASSED + $(grep -c '^PASS ' "$T_DIR/socket.out" "$T_DIR/driver.out" | awk -F: '{s += $2} END {print s}')))
T_FAILED=$((T_FAILED + $(grep -c '^FAIL ' "$T_DIR/socket.out" "$T_DIR/driver.out" | awk -F: '{s += $2} END {print s}')))
[ "$rc" -eq 0 ] || [ "$T_FAILED" -gt 0 ] || fail driver "exited with status $rc"

for png in login.png host-event-log.png; do
	if [ "$(head -c 8 "$OUT/$png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
		pass "screenshot.$png"
	else
		fail "screenshot.$png" "no PNG at $OUT/$png"
	fi
done

echo "connector: $T_PASSED passed, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
