// A scripted agent peer: the bridge's agent endpoint as PROTOCOL.md describes it, played by Node
// on loopback (HTTPS + WebSocket with the test certificate), so the connector can be tested in a
// real browser before the daemon's endpoint exists. It serves /connector/ from the built web
// directory, answers /agent/v1/login, speaks protocol v1 on /agent/v1/ws, plays scripted calls,
// and records every login and command it received.
//
// Not a second implementation of the daemon: calls are whatever the test scripts, and commands
// get the canned answers PROTOCOL.md §4 shows.

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { extname, join, normalize } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};
const MAX_EVENTS = 256;
const MAX_BODY = 4096;

function nowIso() {
  return new Date().toISOString();
}

// A PhoneCall as the daemon puts it on the wire (PROTOCOL.md §6).
export function wireCall({ callId, voiceCallId, from, state = 'ringing', callType = 'Inbound' }) {
  const attrs = { participantType: 'Initial_Caller', isOnHold: false };
  if (voiceCallId) {
    attrs.voiceCallId = voiceCallId;
  }
  return {
    callId,
    callType,
    callSubtype: 'PSTN',
    state,
    phoneNumber: from,
    contact: { phoneNumber: from },
    callAttributes: attrs,
    callInfo: {
      isSoftphoneCall: false, isOnHold: false, callStateTimestamp: nowIso(), acceptEnabled: false,
      declineEnabled: true, holdEnabled: true, isReplayable: true, removeParticipantVariant: 'ALWAYS',
    },
  };
}

export async function startPeer({ cert, key, webDir, allowedOrigins, orgId, port = 0, tokenTtlMs = 900000, log = () => {}, WebSocketServer }) {
  const agents = new Map([
    ['alice', { password: 'correct horse', id: 'a1', name: 'Alice Agent', contactCenter: 'AcmeCC', phone: '+15550107001', sfUserId: '005000000000001AAA' }],
    ['bob', { password: 'battery staple', id: 'a2', name: 'Bob Agent', contactCenter: 'AcmeCC', phone: '+15550107002', sfUserId: '005000000000002AAA' }],
  ]);
  const tokens = new Map(); // token -> {username, expiresAt}
  const failures = new Map(); // username -> failed logins
  const sockets = new Set(); // authenticated {ws, username}
  const events = []; // the agent's events {seq, ...}: one agent (alice) is scripted
  const answered = new Map(); // reqId -> answer frame (idempotency, PROTOCOL.md §3)
  const calls = new Map(); // callId -> wire PhoneCall
  const failNext = new Map(); // op -> {type, message}
  const rec = { logins: [], commands: [], hellos: [], closes: [] };
  let seq = 0;
  let agentStatus = { statusId: 'Online', statusType: 'Online', statusName: 'Online' };

  function issueToken(username) {
    const token = randomBytes(18).toString('base64url');
    const expiresAt = Date.now() + tokenTtlMs;
    tokens.set(token, { username, expiresAt });
    return { token, expiresAt };
  }

  function send(ws, msg) {
    if (ws.readyState === 1) {
      ws.send(JSON.stringify(msg));
    }
  }

  // One event to every socket of the agent, numbered, kept for resumeFrom.
  function emit(event, data, { cause = 'switch', reqId } = {}) {
    seq++;
    const msg = { v: 1, type: 'event', seq, event, cause, data };
    if (reqId) {
      msg.reqId = reqId;
    }
    events.push(msg);
    if (events.length > MAX_EVENTS) {
      events.shift();
    }
    for (const s of sockets) {
      send(s.ws, msg);
    }
    return msg;
  }

  function findCall(ref) {
    if (ref && typeof ref.callId === 'string' && calls.has(ref.callId)) {
      return calls.get(ref.callId);
    }
    if (ref && ref.callAttributes && ref.callAttributes.participantType) {
      for (const c of calls.values()) {
        if (c.callAttributes.participantType === ref.callAttributes.participantType) {
          return c;
        }
      }
    }
    return null;
  }

  function holdResult(c, onHold) {
    c.callAttributes.isOnHold = onHold;
    c.callInfo.isOnHold = onHold;
    return { isThirdPartyOnHold: false, isCustomerOnHold: onHold, calls: { [c.callId]: c }, isCallMerged: false };
  }

  const contacts = [
    { id: 'q-sales', type: 'Queue', name: 'Sales queue' },
    { id: 'a2', type: 'Agent', name: 'Bob Agent', phoneNumber: '+15550107002', availability: 'AVAILABLE' },
    { id: 'pb-1', type: 'PhoneBook', name: 'Front desk', phoneNumber: '+15550100099' },
  ];

  // Answers one command: {ok, data} or {ok:false, error}; may emit the events it causes.
  function execute(s, op, args, reqId) {
    const inj = failNext.get(op);
    if (inj) {
      failNext.delete(op);
      return { ok: false, error: inj };
    }
    const bad = (type, message) => ({ ok: false, error: { type, message } });
    switch (op) {
      case 'auth.refresh': {
        const t = issueToken(s.username);
        return { ok: true, data: t };
      }
      case 'getActiveCalls':
        return { ok: true, data: { activeCalls: [...calls.values()] } };
      case 'accept': {
        const c = findCall(args.call);
        return c ? { ok: true, data: { call: c } } : bad('INVALID_PARTICIPANT', 'no such call');
      }
      case 'decline':
      case 'end': {
        const c = findCall(args.call);
        if (!c) {
          return bad('INVALID_PARTICIPANT', 'no such call');
        }
        calls.delete(c.callId);
        const ended = { ...c, state: 'ended', reason: 'ended' };
        if (op === 'decline') {
          ended.agentStatus = 'DeclinedByAgent';
        }
        emit('call.hangup', { calls: [ended] }, { cause: 'command', reqId });
        return op === 'end' ? { ok: true, data: { calls: [ended] } } : { ok: true, data: { call: ended } };
      }
      case 'hold':
      case 'resume': {
        const c = findCall(args.call);
        if (!c) {
          return bad('INVALID_PARTICIPANT', 'no such call');
        }
        const r = holdResult(c, op === 'hold');
        emit('hold.changed', r, { cause: 'command', reqId });
        return { ok: true, data: r };
      }
      case 'sendDigits':
        return /^[0-9*#A-D]{1,32}$/.test(args.digits || '') ? { ok: true, data: {} } : bad('INVALID_PARAMS', 'bad digits');
      case 'dial': {
        const n = args.contact && args.contact.phoneNumber;
        if (!n) {
          return bad('INVALID_DESTINATION', 'no number');
        }
        const c = wireCall({ callId: `out-${randomBytes(4).toString('hex')}`, from: n, callType: 'Outbound' });
        calls.set(c.callId, c);
        emit('call.started', { call: c }, { cause: 'command', reqId });
        return { ok: true, data: { call: c } };
      }
      case 'getContacts': {
        const f = (args.filter && args.filter.contains) || '';
        const list = contacts.filter((c) => c.name.toLowerCase().includes(f.toLowerCase()));
        return { ok: true, data: { contacts: list, contactTypes: ['Queue', 'Agent', 'PhoneBook'] } };
      }
      case 'setAgentStatus':
        agentStatus = { statusId: args.agentStatus, statusType: args.agentStatus, statusName: args.agentStatus };
        return { ok: true, data: { success: true } };
      case 'getAgentStatus':
        return { ok: true, data: agentStatus };
      case 'wrapUp':
      case 'log':
        return { ok: true, data: {} };
      default:
        return bad('GENERIC_ERROR', `unknown op ${op}`);
    }
  }

  function hello(ws, msg, origin) {
    const a = msg.args || {};
    rec.hellos.push({ orgId: a.orgId, userId: a.userId, resumeFrom: a.resumeFrom, connectorVersion: a.connectorVersion, origin, at: Date.now() });
    const t = tokens.get(a.token);
    const agent = t && agents.get(t.username);
    if (!t || t.expiresAt <= Date.now() || !agent || a.orgId !== orgId || a.userId !== agent.sfUserId) {
      send(ws, { v: 1, type: 'result', reqId: msg.reqId, ok: false, error: { type: 'AUTHENTICATION_ERROR', message: 'log in again' } });
      ws.close(4001, 'not authenticated');
      return null;
    }
    const s = { ws, username: t.username };
    let replay = 'snapshot';
    const later = [];
    if (typeof a.resumeFrom === 'number' && events.length > 0 && events[0].seq <= a.resumeFrom + 1) {
      replay = 'events';
      later.push(...events.filter((e) => e.seq > a.resumeFrom));
    }
    send(ws, {
      v: 1, type: 'result', reqId: msg.reqId, ok: true,
      data: {
        agent: { id: agent.id, name: agent.name, contactCenter: agent.contactCenter, phone: agent.phone },
        capabilities: { hasBlindTransfer: true, hasContactSearch: true, hasAgentAvailability: true },
        agentStatus, activeCalls: [...calls.values()], seq, replay,
      },
    });
    for (const e of later) {
      send(ws, e);
    }
    sockets.add(s);
    return s;
  }

  function onSocket(ws, origin) {
    let s = null;
    const helloTimer = setTimeout(() => ws.close(4001, 'no hello'), 5000);
    ws.on('message', (buf, isBinary) => {
      if (isBinary) {
        ws.close(1003);
        return;
      }
      let msg;
      try {
        msg = JSON.parse(buf.toString('utf8'));
      } catch (e) {
        ws.close(1002);
        return;
      }
      if (msg.v !== 1) {
        send(ws, { v: 1, type: 'result', reqId: msg.reqId, ok: false, error: { type: 'GENERIC_ERROR', message: 'unsupported protocol version' } });
        return;
      }
      if (!s) {
        clearTimeout(helloTimer);
        if (msg.type !== 'cmd' || msg.op !== 'hello') {
          ws.close(4001, 'hello first');
          return;
        }
        s = hello(ws, msg, origin);
        return;
      }
      rec.commands.push({ op: msg.op, args: msg.args, reqId: msg.reqId, at: Date.now() });
      log(`peer: ${msg.op} ${msg.reqId}`);
      let answer = answered.get(msg.reqId);
      if (!answer) {
        answer = { v: 1, type: 'result', reqId: msg.reqId, ...execute(s, msg.op, msg.args || {}, msg.reqId) };
        answered.set(msg.reqId, answer);
      }
      send(ws, answer);
    });
    ws.on('close', (code) => {
      clearTimeout(helloTimer);
      rec.closes.push({ code, at: Date.now() });
      if (s) {
        sockets.delete(s);
      }
    });
  }

  async function onRequest(req, res) {
    const url = new URL(req.url, 'https://peer.invalid');
    if (req.method === 'POST' && url.pathname === '/agent/v1/login') {
      const origin = req.headers.origin || '';
      if (!allowedOrigins.includes(origin)) {
        res.writeHead(403).end();
        return;
      }
      let body = '';
      for await (const chunk of req) {
        body += chunk;
        if (body.length > MAX_BODY) {
          res.writeHead(413).end();
          return;
        }
      }
      let creds;
      try {
        creds = JSON.parse(body);
      } catch (e) {
        creds = null;
      }
      const json = (status, obj) => {
        res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end(JSON.stringify(obj));
      };
      if (!creds || typeof creds.username !== 'string' || typeof creds.password !== 'string' || typeof creds.contactCenter !== 'string') {
        json(400, { error: 'INVALID_PARAMS' });
        return;
      }
      const agent = agents.get(creds.username);
      const n = failures.get(creds.username) || 0;
      let status;
      if (n >= 3) {
        status = 429;
        json(429, { error: 'RATE_LIMITED', retryAfterS: 30 });
      } else if (!agent || agent.password !== creds.password || agent.contactCenter !== creds.contactCenter) {
        status = 401;
        failures.set(creds.username, n + 1);
        json(401, { error: 'AUTHENTICATION_ERROR' });
      } else {
        status = 200;
        failures.delete(creds.username);
        const t = issueToken(creds.username);
        json(200, { ...t, agent: { id: agent.id, name: agent.name, contactCenter: agent.contactCenter } });
      }
      rec.logins.push({ username: creds.username, contactCenter: creds.contactCenter, orgId: creds.orgId, status, cookie: req.headers.cookie || '', origin, at: Date.now() });
      return;
    }
    if (req.method === 'GET' && url.pathname.startsWith('/connector/')) {
      let rel = url.pathname.slice('/connector/'.length) || 'index.html';
      rel = normalize(rel);
      if (rel.startsWith('..') || rel.includes('\0')) {
        res.writeHead(404).end();
        return;
      }
      try {
        const data = await readFile(join(webDir, rel));
        res.writeHead(200, { 'Content-Type': TYPES[extname(rel)] || 'application/octet-stream', 'Cache-Control': 'no-cache' });
        res.end(data);
      } catch (e) {
        res.writeHead(404).end();
      }
      return;
    }
    res.writeHead(404).end();
  }

  const server = createServer({ cert, key, minVersion: 'TLSv1.2' }, (req, res) => {
    onRequest(req, res).catch(() => res.writeHead(500).end());
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url, 'https://peer.invalid');
    const origin = req.headers.origin || '';
    if (url.pathname !== '/agent/v1/ws' || (req.headers.upgrade || '').toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    if (!allowedOrigins.includes(origin)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws, origin));
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));

  return {
    port: server.address().port,
    rec,
    calls,
    // Script: an inbound call rings the agent's phone (call.started after the VoiceCall exists).
    startInboundCall({ callId, voiceCallId, from }) {
      const c = wireCall({ callId, voiceCallId, from });
      calls.set(callId, c);
      return emit('call.started', { call: c });
    },
    connectCall(callId) {
      const c = calls.get(callId);
      c.state = 'connected';
      c.callInfo.callStateTimestamp = nowIso();
      return emit('call.connected', { call: c });
    },
    hangupCall(callId) {
      const c = calls.get(callId);
      calls.delete(callId);
      return emit('call.hangup', { calls: [{ ...c, state: 'ended', reason: 'ended' }] });
    },
    // The desk phone put the caller on hold: a switch-side change.
    phoneHold(callId, onHold) {
      return emit('hold.changed', holdResult(calls.get(callId), onHold));
    },
    failNext(op, error) {
      failNext.set(op, error);
    },
    // Drops every agent socket as a server fault would (1011): the connector must come back.
    dropSockets() {
      for (const s of sockets) {
        s.ws.close(1011, 'test: server fault');
      }
    },
    socketCount() {
      return sockets.size;
    },
    lastSeq() {
      return seq;
    },
    commandsOf(op) {
      return rec.commands.filter((c) => c.op === op);
    },
    close() {
      for (const s of sockets) {
        s.ws.terminate();
      }
      wss.close();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
