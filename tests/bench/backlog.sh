#!/usr/bin/env bash
# Start-up with a large backlog: a store holding N pending operations (default 100,000) left by
# a "previous process"; measures the time to SIP-ready and the daemon's memory (RSS) while it
# drains. Loopback only; bounded in time.
set -u
. "$(dirname "$0")/../lib.sh"
T_SUITE=bench-backlog
setup_env
make_certs || exit 1
start_emulator || exit 1
CONFIG=$T_DIR/scvbridge.json
write_config "$CONFIG"
N=${BACKLOG_OPS:-100000}
DB=$T_DIR/outbox.db

# let the daemon create the schema, then fill it as a crashed process would have left it
"$DAEMON" -c "$CONFIG" --dead-letters >/dev/null || exit 1
t0=$(date +%s%N)
sqlite3 "$DB" <<SQL
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N / 2)
INSERT INTO ops (call_key, cc_name, kind, method, path, body, created_ms, attempts)
SELECT printf('00000000-0000-4000-8000-%012d', i), 'acme', k.kind, k.method,
       CASE k.kind WHEN 1 THEN '/voiceCalls' ELSE printf('/voiceCalls/00000000-0000-4000-8000-%012d', i) END,
       CASE k.kind WHEN 1 THEN printf('{"callCenterApiName":"AcmeCC","vendorCallKey":"00000000-0000-4000-8000-%012d","to":"+15550100000","from":"+15550199999","initiationMethod":"Inbound","startTime":"2026-01-01T00:00:00.000Z","participants":[{"participantKey":"+15550199999","type":"END_USER"}]}', i)
            ELSE '{"startTime":"2026-01-01T00:00:00.000Z","endTime":"2026-01-01T00:01:00.000Z","disconnectReason":{"value":"CUSTOMER_DISCONNECT","isError":false}}' END,
       CAST(strftime('%s','now') AS INTEGER) * 1000, 0
FROM n, (SELECT 1 AS kind, 'POST' AS method UNION ALL SELECT 2, 'PATCH') AS k
ORDER BY i, k.kind;
COMMIT;
SQL
fill_ms=$((($(date +%s%N) - t0) / 1000000))
rows=$(sqlite3 "$DB" 'SELECT count(*) FROM ops')
size=$(du -k "$DB" | awk '{print $1}')

t0=$(date +%s%N)
start_daemon "$CONFIG" || exit 1
ready_ms=$((($(date +%s%N) - t0) / 1000000))
rss0=$(awk '/VmRSS/ {print $2}' /proc/"$DAEMON_PID"/status)
sleep "${DRAIN_S:-10}"
rss1=$(awk '/VmRSS/ {print $2}' /proc/"$DAEMON_PID"/status)
delivered=$(emu GET /emulator/stats | jq '.creates')
stop_daemon
left=$(sqlite3 "$DB" 'SELECT count(*) FROM ops')

echo "| backlog | pending ops | store size | time to SIP-ready | RSS at ready | RSS after ${DRAIN_S:-10} s | creates delivered in ${DRAIN_S:-10} s | left in store |"
echo "|---|---|---|---|---|---|---|---|"
echo "| $N | $rows | $((size / 1024)) MiB | $ready_ms ms | $((rss0 / 1024)) MiB | $((rss1 / 1024)) MiB | $delivered | $left |"
echo "backlog: ops=$rows fill_ms=$fill_ms ready_ms=$ready_ms rss_ready_kib=$rss0 rss_drain_kib=$rss1 delivered_creates=$delivered left=$left exit=$DAEMON_RC"
