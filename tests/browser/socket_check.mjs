// Edge cases of the connector's socket client (scv/web/src/socket.js) that a browser run cannot
// force in reasonable time: a command that times out (its late event must then be published),
// a refused session (no reconnect loop, pending commands fail), events seen twice after a replay,
// an oversized command, and the refresh timer. A fake WebSocket stands in for the network.
// Prints "PASS name" / "FAIL name: why" lines.
//   node socket_check.mjs [SUITE]

import { webcrypto } from 'node:crypto';

if (!globalThis.crypto) {
  globalThis.crypto = webcrypto; // Node 18
}
const { AgentSocket, SOCKET_STATE } = await import('../../scv/web/src/socket.js');

const SUITE = process.argv[2] || 'connector';
let failed = 0;
function check(name, ok, why) {
  console.log(ok ? `PASS ${SUITE}/socket.${name}` : `FAIL ${SUITE}/socket.${name}: ${why}`);
  if (!ok) {
    failed++;
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A WebSocket whose far end is the test: `sent` holds parsed frames, `serve(msg)` delivers one.
class FakeWs {
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeWs.all.push(this);
    setTimeout(() => {
      this.readyState = 1;
      this.onopen && this.onopen();
    }, 0);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close(code = 1000) {
    this.readyState = 3;
    setTimeout(() => this.onclose && this.onclose({ code }), 0);
  }
  serve(msg) {
    this.onmessage({ data: JSON.stringify({ v: 1, ...msg }) });
  }
  farClose(code) {
    this.readyState = 3;
    this.onclose({ code });
  }
}

function newSocket(events, extra = {}) {
  return new AgentSocket({
    url: 'wss://bridge.invalid/agent/v1/ws',
    WebSocketImpl: FakeWs,
    timeoutMs: 200,
    callbacks: { onEvent: (m) => events.push(m), ...extra },
  });
}

async function connected(sock, session = {}) {
  const started = sock.start({ token: 't0', expiresAt: Date.now() + 3600e3, orgId: 'o', userId: 'u', ...session });
  await sleep(5);
  const ws = FakeWs.all.at(-1);
  const hello = ws.sent[0];
  ws.serve({ type: 'result', reqId: hello.reqId, ok: true, data: { seq: 10, replay: 'snapshot', activeCalls: [] } });
  await started;
  return ws;
}

// 1. A timed-out command rejects with GENERIC_ERROR; the event it caused, arriving late, is
// published (the base library never published the result). A succeeded command's event is not.
{
  const events = [];
  const sock = newSocket(events);
  const ws = await connected(sock);
  const p = sock.command('hold', { call: { callId: 'c1' } });
  const cmd = ws.sent.at(-1);
  let err = null;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  check('timeout_rejects', err && err.type === 'GENERIC_ERROR' && /no answer/.test(err.message), `got ${JSON.stringify(err)}`);
  ws.serve({ type: 'event', seq: 11, event: 'hold.changed', cause: 'command', reqId: cmd.reqId, data: {} });
  check('timed_out_event_published', events.length === 1 && events[0].seq === 11, `events ${JSON.stringify(events)}`);

  const q = sock.command('resume', { call: { callId: 'c1' } });
  const cmd2 = ws.sent.at(-1);
  ws.serve({ type: 'event', seq: 12, event: 'hold.changed', cause: 'command', reqId: cmd2.reqId, data: {} }); // before the result
  ws.serve({ type: 'result', reqId: cmd2.reqId, ok: true, data: { isCustomerOnHold: false } });
  const data = await q;
  ws.serve({ type: 'event', seq: 13, event: 'hold.changed', cause: 'command', reqId: cmd2.reqId, data: {} }); // after it
  check('own_events_dropped', data.isCustomerOnHold === false && events.length === 1, `events ${JSON.stringify(events)}`);

  // 2. A replay overlapping what was seen: each seq once.
  ws.serve({ type: 'event', seq: 13, event: 'call.connected', cause: 'switch', data: {} });
  ws.serve({ type: 'event', seq: 14, event: 'call.connected', cause: 'switch', data: {} });
  check('seq_deduplicated', events.length === 2 && events[1].seq === 14 && sock.lastSeq === 14, `events ${JSON.stringify(events.map((e) => e.seq))}`);

  // 3. An error answer keeps the bridge's type and message.
  const r = sock.command('dial', { contact: {} });
  ws.serve({ type: 'result', reqId: ws.sent.at(-1).reqId, ok: false, error: { type: 'INVALID_DESTINATION', message: 'no number' } });
  let e3 = null;
  try {
    await r;
  } catch (e) {
    e3 = e;
  }
  check('error_type_kept', e3 && e3.type === 'INVALID_DESTINATION' && e3.message === 'no number', `got ${JSON.stringify(e3)}`);

  // 4. Too large for the bridge (64 KiB): refused before it is sent.
  const sentBefore = ws.sent.length;
  let e4 = null;
  try {
    await sock.command('log', { message: 'x'.repeat(70000) });
  } catch (e) {
    e4 = e;
  }
  check('oversized_refused', e4 && e4.type === 'GENERIC_ERROR' && ws.sent.length === sentBefore, `got ${JSON.stringify(e4)}`);

  // 5. A server fault: reconnect with resumeFrom; a command made meanwhile waits and is sent
  // after hello, and one sent but unanswered before the drop is sent again with its reqId.
  const lost = sock.command('getActiveCalls', {}, { timeoutMs: 5000 });
  const lostReq = ws.sent.at(-1).reqId;
  ws.farClose(1011);
  const waiting = sock.command('getAgentStatus', {}, { timeoutMs: 5000 });
  check('reconnect_waits', sock.state === SOCKET_STATE.WAITING, `state ${sock.state}`);
  await until(() => FakeWs.all.length >= 3 && FakeWs.all.at(-1).sent.length > 0, 3000);
  const ws2 = FakeWs.all.at(-1);
  const hello2 = ws2.sent[0];
  ws2.serve({ type: 'result', reqId: hello2.reqId, ok: true, data: { seq: 14, replay: 'events', activeCalls: [] } });
  const resent = ws2.sent.slice(1).map((f) => f.op);
  check('reconnect_resume_from', hello2.op === 'hello' && hello2.args.resumeFrom === 14, `hello ${JSON.stringify(hello2)}`);
  check('reconnect_resends', resent.includes('getActiveCalls') && resent.includes('getAgentStatus') &&
    ws2.sent.find((f) => f.op === 'getActiveCalls').reqId === lostReq, `sent after hello: ${JSON.stringify(ws2.sent.slice(1))}`);
  for (const f of ws2.sent.slice(1)) {
    ws2.serve({ type: 'result', reqId: f.reqId, ok: true, data: { op: f.op } });
  }
  const [a, b] = await Promise.all([lost, waiting]);
  check('reconnect_answers', a.op === 'getActiveCalls' && b.op === 'getAgentStatus', `answers ${JSON.stringify([a, b])}`);
  sock.stop();
}

// 6. The session is refused (4001 after a failed hello): no reconnect loop, the caller learns.
{
  const lostAuth = [];
  const sock = newSocket([], { onAuthLost: (e) => lostAuth.push(e) });
  const ws = await connected(sock);
  const pending = sock.command('hold', {}, { timeoutMs: 5000 });
  const before = FakeWs.all.length;
  ws.farClose(4001);
  let err = null;
  try {
    await pending;
  } catch (e) {
    err = e;
  }
  await sleep(800);
  check('auth_close_no_reconnect', FakeWs.all.length === before && sock.state === SOCKET_STATE.STOPPED, `${FakeWs.all.length - before} new sockets, state ${sock.state}`);
  check('auth_close_fails_pending', err && err.type === 'LOGIN_REQUIRED' && lostAuth.length === 1, `pending ${JSON.stringify(err)}, onAuthLost x${lostAuth.length}`);
}

// 7. A refused hello rejects start() with the bridge's error type.
{
  const sock = newSocket([]);
  const started = sock.start({ token: 'bad', expiresAt: Date.now() + 1000, orgId: 'o', userId: 'u' });
  await sleep(5);
  const ws = FakeWs.all.at(-1);
  ws.serve({ type: 'result', reqId: ws.sent[0].reqId, ok: false, error: { type: 'AUTHENTICATION_ERROR', message: 'org mismatch' } });
  let err = null;
  try {
    await started;
  } catch (e) {
    err = e;
  }
  check('hello_refused', err && err.type === 'AUTHENTICATION_ERROR' && sock.state === SOCKET_STATE.STOPPED, `got ${JSON.stringify(err)}, state ${sock.state}`);
}

// 8. The refresh is sent at two thirds of the token's life.
{
  const tokens = [];
  const sock = newSocket([], { onToken: (t) => tokens.push(t) });
  const t0 = Date.now();
  const ws = await connected(sock, { expiresAt: t0 + 600, receivedAt: t0 });
  const frame = await until(() => ws.sent.find((f) => f.op === 'auth.refresh'), 2000);
  const at = Date.now() - t0;
  check('refresh_at_two_thirds', frame && at >= 380 && at < 600, `auth.refresh after ${at} ms of a 600 ms token`);
  if (frame) {
    ws.serve({ type: 'result', reqId: frame.reqId, ok: true, data: { token: 't1', expiresAt: Date.now() + 3600e3 } });
    await sleep(5);
  }
  check('refresh_hands_token', tokens[0] === 't1' && sock.session.token === 't1', `tokens ${JSON.stringify(tokens)}`);
  sock.stop();
}

async function until(fn, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) {
      return v;
    }
    if (Date.now() > end) {
      return null;
    }
    await sleep(10);
  }
}

process.exit(failed > 0 ? 1 : 0);
