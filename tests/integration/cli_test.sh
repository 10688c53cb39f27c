#!/usr/bin/env bash
# The command line: --check on good and bad configurations, --version, --help, usage errors,
# and a daemon that cannot bind its SIP address.
set -u
. "$(dirname "$0")/../lib.sh"
T_SUITE=cli
setup_env
make_certs || exit 1
EMU_PORT=1 # not contacted by these tests
CONFIG=$T_DIR/good.json
write_config "$CONFIG"

out=$("$DAEMON" -c "$CONFIG" --check 2>&1)
check_eq check_good.exit "$?" 0
check_eq check_good.says_ok "$(echo "$out" | grep -c 'configuration OK')" 1

# a wrong type: the message names the key path
sed 's/"org_id": "00D000000000001AAA"/"org_id": 42/' "$CONFIG" >"$T_DIR/bad_type.json"
out=$("$DAEMON" -c "$T_DIR/bad_type.json" --check 2>&1)
check_eq check_bad_type.exit "$?" 1
check_eq check_bad_type.names_key "$(echo "$out" | grep -c 'contact_centers\[0\].org_id')" 1

# broken JSON: line and column
printf '{\n  "sip": {,\n}\n' >"$T_DIR/broken.json"
out=$("$DAEMON" -c "$T_DIR/broken.json" --check 2>&1)
check_eq check_broken.exit "$?" 1
check_eq check_broken.line_col "$(echo "$out" | grep -cE 'broken.json:2:[0-9]+')" 1

# a key that is not RSA
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T_DIR/ec.key" 2>/dev/null
sed "s|$PKI/cc.key|$T_DIR/ec.key|" "$CONFIG" >"$T_DIR/ec.json"
out=$("$DAEMON" -c "$T_DIR/ec.json" --check 2>&1)
check_eq check_ec_key.exit "$?" 1
check_eq check_ec_key.names_key "$(echo "$out" | grep -c 'private_key_file')" 1

# an unknown key
sed 's/"store": {/"store": { "pathh": "x",/' "$CONFIG" >"$T_DIR/unknown.json"
out=$("$DAEMON" -c "$T_DIR/unknown.json" --check 2>&1)
check_eq check_unknown_key.exit "$?" 1
check_eq check_unknown_key.names_key "$(echo "$out" | grep -c 'store.pathh')" 1

out=$("$DAEMON" --version 2>&1)
check_eq version.exit "$?" 0
check_eq version.text "$(echo "$out" | grep -cE '^scvbridge [0-9]+\.[0-9]+\.[0-9]+$')" 1
"$DAEMON" --help >/dev/null 2>&1
check_eq help.exit "$?" 0
"$DAEMON" >/dev/null 2>&1
check_eq usage_no_config.exit "$?" 2
"$DAEMON" -c "$CONFIG" --bogus >/dev/null 2>&1
check_eq usage_bad_option.exit "$?" 2

# SIP address taken: start-up fails with a clear message and a non-zero status
sipp -sn uas -i 127.0.0.1 -p "$SIP_PORT" -bg -nostdin >/dev/null 2>&1
pid=$(pgrep -n -f "sipp -sn uas -i 127.0.0.1 -p $SIP_PORT")
[ -n "$pid" ] && T_PIDS+=("$pid")
timeout 20 "$DAEMON" -c "$CONFIG" >"$T_DIR/bind.out" 2>&1
rc=$?
check_eq sip_bind_failure.exit "$rc" 1
check_eq sip_bind_failure.message "$(grep -c 'cannot listen on sip:127.0.0.1' "$T_DIR/bind.out")" 1

echo "cli: $T_PASSED passed, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
