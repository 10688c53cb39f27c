#!/usr/bin/env bash
# WebSocket framing (scv/ws.c) against an independent client: the test server serves it on
# loopback and Debian's python3-websockets, plus raw frames on a plain socket, drive it:
# echo, fragments, pings both ways, close codes both ways, the limits and the refusals.
set -u
. "$(dirname "$0")/../lib.sh"
T_SUITE=ws
setup_env
SERVER=$SCVB_ROOT/$BUILD_DIR/tests/ws-server
PY=/usr/bin/python3 # Debian's, with python3-websockets; not another python on PATH

if ! "$PY" -c 'import websockets' 2>/dev/null; then
	fail client "python3-websockets is not installed for $PY (make deps)"
	exit 1
fi
[ -x "$SERVER" ] || { fail server "$SERVER not built"; exit 1; }

"$SERVER" --listen 127.0.0.1:0 --ready-file "$T_DIR/ws.port" --origin http://127.0.0.1:8080 \
	--origin https://bridge.example.com --ping-ms 300 --max-missed 2 --close-timeout-ms 700 \
	--max-send-queue 1048576 2>"$T_DIR/server.log" &
SERVER_PID=$!
T_PIDS+=("$SERVER_PID")
for _ in $(seq 1 100); do
	[ -s "$T_DIR/ws.port" ] && break
	sleep 0.05
done
[ -s "$T_DIR/ws.port" ] || { fail server "not ready"; cat "$T_DIR/server.log"; exit 1; }

timeout 120 "$PY" "$SCVB_ROOT/tests/ws_server/ws_client.py" "$(cat "$T_DIR/ws.port")" \
	"$T_DIR/server.log"
check_eq client_exit "$?" 0

# SIGTERM: every connection closed, the loop closed, exit 0 (a sanitizer build fails here on
# a leak or an error)
kill -TERM "$SERVER_PID"
for _ in $(seq 1 100); do
	kill -0 "$SERVER_PID" 2>/dev/null || break
	sleep 0.05
done
wait "$SERVER_PID"
check_eq server_clean_exit "$?" 0
check_eq no_sanitizer_report "$(grep -c -E 'ERROR: (Address|Leak)Sanitizer|runtime error' "$T_DIR/server.log")" 0

echo "ws: $T_PASSED passed, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
