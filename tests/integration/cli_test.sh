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

# check_refused NAME FILE WHAT PATTERN: --check refuses FILE (exit status 1) with one line of
# its output matching PATTERN (an extended regular expression): checks NAME.exit and NAME.WHAT.
check_refused() {
	local out rc
	out=$("$DAEMON" -c "$2" --check 2>&1)
	rc=$?
	check_eq "$1.exit" "$rc" 1
	check_eq "$1.$3" "$(echo "$out" | grep -cE "$4")" 1
}

out=$("$DAEMON" -c "$CONFIG" --check 2>&1)
check_eq check_good.exit "$?" 0
check_eq check_good.says_ok "$(echo "$out" | grep -c 'configuration OK')" 1

# a wrong type: the message names the key path
sed 's/"org_id": "00D000000000001AAA"/"org_id": 42/' "$CONFIG" >"$T_DIR/bad_type.json"
check_refused check_bad_type "$T_DIR/bad_type.json" names_key 'contact_centers\[0\].org_id'

# broken JSON: line and column
printf '{\n  "sip": {,\n}\n' >"$T_DIR/broken.json"
check_refused check_broken "$T_DIR/broken.json" line_col 'broken.json:2:[0-9]+'

# a key that is not RSA
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T_DIR/ec.key" 2>/dev/null
sed "s|$PKI/cc.key|$T_DIR/ec.key|" "$CONFIG" >"$T_DIR/ec.json"
check_refused check_ec_key "$T_DIR/ec.json" names_key 'private_key_file'

# an unknown key
sed 's/"store": {/"store": { "pathh": "x",/' "$CONFIG" >"$T_DIR/unknown.json"
check_refused check_unknown_key "$T_DIR/unknown.json" names_key 'store.pathh'

out=$("$DAEMON" --version 2>&1)
check_eq version.exit "$?" 0
check_eq version.text "$(echo "$out" | grep -cE '^scvbridge [0-9]+\.[0-9]+\.[0-9]+$')" 1
"$DAEMON" --help >/dev/null 2>&1
check_eq help.exit "$?" 0
"$DAEMON" >/dev/null 2>&1
check_eq usage_no_config.exit "$?" 2
"$DAEMON" -c "$CONFIG" --bogus >/dev/null 2>&1
check_eq usage_bad_option.exit "$?" 2

# UDP socket buffers (sip.udp_buffer_bytes): the log says what the kernel gave the SIP socket;
# without CAP_NET_ADMIN the kernel caps the request at net.core.rmem_max and the log warns.
# ss reports the kernel's figure, which is twice the usable size.
start_daemon "$CONFIG" || exit 1
rb=$(udp_skmem "$SIP_PORT" rb)
tb=$(udp_skmem "$SIP_PORT" tb)
if [ "$(id -u)" = 0 ]; then
	check_eq udp_buffers.receive "$rb" $((2 * 4194304))
	check_eq udp_buffers.send "$tb" $((2 * 4194304))
fi
check_eq udp_buffers.logged "$(grep -c "UDP port $SIP_PORT: receive and send buffers $((rb / 2)) and $((tb / 2)) bytes" "$T_DIR/daemon.log")$(grep -c 'udp_buffer_bytes' "$T_DIR/daemon.log")" \
	"$([ "$rb" -ge $((2 * 4194304)) ] && echo 10 || echo 01)"
stop_daemon
RMEM_MAX=$(cat /proc/sys/net/core/rmem_max)
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && [ "$RMEM_MAX" -lt 134217728 ]; then
	sed "s/\"trusted_peers\"/\"udp_buffer_bytes\": $((2 * RMEM_MAX)), \"trusted_peers\"/" "$CONFIG" >"$T_DIR/bigbuf.json"
	DAEMON_REAL=$DAEMON
	DAEMON=$T_DIR/daemon-no-net-admin
	printf '#!/bin/sh\nexec setpriv --bounding-set=-net_admin --inh-caps=-net_admin %s "$@"\n' "$DAEMON_REAL" >"$DAEMON"
	chmod +x "$DAEMON"
	start_daemon "$T_DIR/bigbuf.json" || exit 1
	check_eq udp_buffers_capped.receive "$(udp_skmem "$SIP_PORT" rb)" $((2 * RMEM_MAX))
	check_eq udp_buffers_capped.warned "$(grep -c "UDP port $SIP_PORT got receive and send buffers of $RMEM_MAX and [0-9]* bytes, $((2 * RMEM_MAX)) asked (sip.udp_buffer_bytes)" "$T_DIR/daemon.log")" 1
	stop_daemon
	DAEMON=$DAEMON_REAL
fi
sed 's/"trusted_peers"/"udp_buffer_bytes": 1000, "trusted_peers"/' "$CONFIG" >"$T_DIR/tinybuf.json"
check_refused check_udp_buffer_range "$T_DIR/tinybuf.json" names_key 'sip.udp_buffer_bytes: 1000 is out of range'

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
