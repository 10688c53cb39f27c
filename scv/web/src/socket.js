// The agent socket: a client of the agent protocol v1 (PROTOCOL.md §2-§5).
//
// It owns one WebSocket at a time to the bridge and nothing about calls: envelopes, a reqId per
// command, a timeout per command, reconnection with backoff and `resumeFrom`, the token refresh at
// two thirds of its life, and the filter that keeps the events this tab's own commands caused
// from reaching Salesforce a second time (the base library publishes a method's result itself).
//
// Callbacks (all optional):
//   onEvent(msg)              an event to publish (already filtered and de-duplicated by seq)
//   onHello(data, resumed)    every accepted hello; `resumed` is false for the first one
//   onToken(token, expiresAt) a refreshed token
//   onAuthLost(reason)        the bridge refused or ended the session: log in again
//   log(level, text)          diagnostics (never given a token)

export const PROTOCOL_VERSION = 1;
export const MAX_MESSAGE_BYTES = 64 * 1024;

const CLOSE_AUTH = 4001;
const CLOSE_EXPIRED = 4002;
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30000;
// The daemon answers a repeated reqId for 60 s (PROTOCOL.md §3); events of our own commands
// arrive well within that.
const OWN_REQ_TTL_MS = 60000;
const OWN_REQ_MAX = 1024;

export const SOCKET_STATE = Object.freeze({
  IDLE: 'idle',
  CONNECTING: 'connecting', // socket opening or hello sent
  READY: 'ready', // hello accepted
  WAITING: 'waiting', // closed, reconnect timer running
  STOPPED: 'stopped', // stop() or the session was refused
});

function randomHex(bytes) {
  const a = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

function protocolError(type, message) {
  return { type, message };
}

export class AgentSocket {
  // url: wss://host[:port]/agent/v1/ws. WebSocketImpl: the browser's WebSocket, or a stand-in.
  constructor({ url, WebSocketImpl = globalThis.WebSocket, timeoutMs = 10000, callbacks = {} }) {
    this.url = url;
    this.WebSocketImpl = WebSocketImpl;
    this.timeoutMs = timeoutMs;
    this.cb = callbacks;
    this.state = SOCKET_STATE.IDLE;
    this.ws = null;
    this.session = null; // {token, expiresAt, orgId, userId, connectorVersion}
    this.lastSeq = 0;
    this.helloCount = 0;
    this.attempt = 0;
    this.reconnectTimer = null;
    this.refreshTimer = null;
    this.prefix = randomHex(6);
    this.counter = 0;
    this.pending = new Map(); // reqId -> {op, args, resolve, reject, timer}
    this.succeeded = new Map(); // reqId -> time the result came; its events are not published
    this.helloWaiter = null;
  }

  log(level, text) {
    if (this.cb.log) {
      this.cb.log(level, text);
    }
  }

  enterState(next) {
    if (next !== this.state) {
      this.log('debug', `socket ${this.state} -> ${next}`);
      this.state = next;
    }
  }

  // Connects and says hello. Resolves with hello's data, rejects with {type, message} when the
  // bridge refuses the token (then the socket stays stopped).
  start(session) {
    this.session = { ...session };
    this.stopTimers();
    this.attempt = 0;
    return new Promise((resolve, reject) => {
      this.helloWaiter = { resolve, reject };
      this.open();
    });
  }

  stop() {
    this.enterState(SOCKET_STATE.STOPPED);
    this.stopTimers();
    this.session = null;
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = null;
      ws.close(1000, 'logout');
    }
    this.failAll(protocolError('LOGIN_REQUIRED', 'logged out'));
  }

  stopTimers() {
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.refreshTimer);
    this.reconnectTimer = null;
    this.refreshTimer = null;
  }

  open() {
    this.enterState(SOCKET_STATE.CONNECTING);
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch (e) {
      this.log('error', `cannot open ${this.url}: ${e.message}`);
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => this.sayHello(ws);
    ws.onmessage = (ev) => this.onFrame(ws, ev.data);
    ws.onerror = () => {}; // onclose follows and carries the code
    ws.onclose = (ev) => this.onClose(ws, ev.code, ev.reason);
  }

  sayHello(ws) {
    const args = {
      token: this.session.token,
      orgId: this.session.orgId,
      userId: this.session.userId,
      connectorVersion: this.session.connectorVersion,
    };
    if (this.helloCount > 0 && this.lastSeq > 0) {
      args.resumeFrom = this.lastSeq;
    }
    this.helloReqId = this.nextReqId();
    this.sendRaw(ws, { v: PROTOCOL_VERSION, type: 'cmd', reqId: this.helloReqId, op: 'hello', args });
  }

  onHelloResult(msg) {
    if (!msg.ok) {
      const err = msg.error || protocolError('AUTHENTICATION_ERROR', 'refused');
      this.log('error', `hello refused: ${err.type}`);
      this.sessionLost(err);
      return;
    }
    const data = msg.data || {};
    const resumed = this.helloCount > 0;
    this.helloCount++;
    this.attempt = 0;
    this.enterState(SOCKET_STATE.READY);
    // First hello, or the events we missed are gone: the snapshot is the truth from data.seq on.
    if (!resumed || data.replay !== 'events') {
      this.lastSeq = typeof data.seq === 'number' ? data.seq : 0;
    }
    this.scheduleRefresh();
    if (this.helloWaiter) {
      this.helloWaiter.resolve(data);
      this.helloWaiter = null;
    }
    if (this.cb.onHello) {
      this.cb.onHello(data, resumed);
    }
    // Commands that waited for the socket, or whose answer the old socket lost: the same reqId
    // again, so the daemon does nothing twice (PROTOCOL.md §3).
    for (const [reqId, p] of this.pending) {
      this.sendRaw(this.ws, { v: PROTOCOL_VERSION, type: 'cmd', reqId, op: p.op, args: p.args });
    }
  }

  // The bridge refused the session or ended it: no reconnect until a new login.
  sessionLost(err) {
    this.enterState(SOCKET_STATE.STOPPED);
    this.stopTimers();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = null;
      ws.close(1000);
    }
    this.failAll(protocolError('LOGIN_REQUIRED', err.message || 'log in again'));
    if (this.helloWaiter) {
      this.helloWaiter.reject(err);
      this.helloWaiter = null;
    } else if (this.cb.onAuthLost) {
      this.cb.onAuthLost(err);
    }
  }

  onClose(ws, code, reason) {
    if (ws !== this.ws) {
      return;
    }
    this.ws = null;
    this.log('info', `socket closed ${code} ${reason || ''}`.trim());
    if (this.state === SOCKET_STATE.STOPPED) {
      return;
    }
    if (code === CLOSE_AUTH || code === CLOSE_EXPIRED) {
      this.sessionLost(protocolError('LOGIN_REQUIRED', code === CLOSE_EXPIRED ? 'session expired' : 'not authenticated'));
      return;
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    this.enterState(SOCKET_STATE.WAITING);
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.attempt = Math.min(this.attempt + 1, 16);
    this.log('info', `reconnecting in ${delay} ms`);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.state === SOCKET_STATE.WAITING) {
        this.open();
      }
    }, delay);
  }

  // At two thirds of the token's life, counted from when we got it.
  scheduleRefresh() {
    clearTimeout(this.refreshTimer);
    const now = Date.now();
    const life = this.session.expiresAt - (this.session.receivedAt || now);
    if (!(life > 0)) {
      return;
    }
    const at = (this.session.receivedAt || now) + (life * 2) / 3;
    this.refreshTimer = setTimeout(() => this.refresh(), Math.max(0, at - now));
  }

  async refresh() {
    this.refreshTimer = null;
    try {
      const data = await this.command('auth.refresh', {});
      if (!this.session) {
        return;
      }
      this.session.token = data.token;
      this.session.expiresAt = data.expiresAt;
      this.session.receivedAt = Date.now();
      if (this.cb.onToken) {
        this.cb.onToken(data.token, data.expiresAt);
      }
      this.scheduleRefresh();
    } catch (e) {
      // The token still lives a third of its life: try again shortly; an expired one closes 4002.
      this.log('error', `token refresh failed: ${e.type || e.message}`);
      if (this.session && this.state !== SOCKET_STATE.STOPPED) {
        this.refreshTimer = setTimeout(() => this.refresh(), 5000);
      }
    }
  }

  nextReqId() {
    this.counter++;
    return `${this.prefix}-${this.counter}`;
  }

  // Sends a command; resolves with its data, rejects with {type, message} (the base library's
  // error type names). Waits for the socket when it is reconnecting, within the same timeout.
  command(op, args = {}, { timeoutMs = this.timeoutMs } = {}) {
    if (this.state === SOCKET_STATE.STOPPED || this.state === SOCKET_STATE.IDLE) {
      return Promise.reject(protocolError('LOGIN_REQUIRED', 'not logged in'));
    }
    const reqId = this.nextReqId();
    const frame = { v: PROTOCOL_VERSION, type: 'cmd', reqId, op, args };
    if (JSON.stringify(frame).length > MAX_MESSAGE_BYTES) {
      return Promise.reject(protocolError('GENERIC_ERROR', `${op}: command too large`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // It may still happen: its event is then published like any other.
        this.pending.delete(reqId);
        reject(protocolError('GENERIC_ERROR', `${op}: no answer from the bridge in ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(reqId, { op, args, resolve, reject, timer });
      if (this.state === SOCKET_STATE.READY) {
        this.sendRaw(this.ws, frame);
      }
    });
  }

  // Fire and forget (the `log` command): sent only when connected, never retried.
  notify(op, args) {
    if (this.state !== SOCKET_STATE.READY) {
      return;
    }
    this.sendRaw(this.ws, { v: PROTOCOL_VERSION, type: 'cmd', reqId: this.nextReqId(), op, args });
  }

  sendRaw(ws, frame) {
    if (!ws || ws.readyState !== 1) {
      return;
    }
    ws.send(JSON.stringify(frame));
  }

  failAll(err) {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  onFrame(ws, text) {
    if (ws !== this.ws) {
      return;
    }
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      this.log('error', 'frame is not JSON; ignored');
      return;
    }
    if (msg === null || typeof msg !== 'object' || msg.v !== PROTOCOL_VERSION) {
      this.log('error', 'frame of another protocol version; ignored');
      return;
    }
    if (msg.type === 'result') {
      this.onResult(msg);
    } else if (msg.type === 'event') {
      this.onEventFrame(msg);
    }
  }

  onResult(msg) {
    if (msg.reqId === this.helloReqId) {
      this.helloReqId = null;
      this.onHelloResult(msg);
      return;
    }
    const p = this.pending.get(msg.reqId);
    if (!p) {
      return; // timed out, or an answer to a notify()
    }
    this.pending.delete(msg.reqId);
    clearTimeout(p.timer);
    if (msg.ok) {
      this.rememberSucceeded(msg.reqId);
      p.resolve(msg.data || {});
    } else {
      const e = msg.error || {};
      p.reject(protocolError(e.type || 'GENERIC_ERROR', e.message || `${p.op} failed`));
    }
  }

  rememberSucceeded(reqId) {
    const now = Date.now();
    this.succeeded.set(reqId, now);
    for (const [id, t] of this.succeeded) {
      if (this.succeeded.size <= OWN_REQ_MAX && now - t < OWN_REQ_TTL_MS) {
        break;
      }
      this.succeeded.delete(id);
    }
  }

  // True when this tab's own command caused the event: the base library has published (or is
  // about to publish) the command's result, so the event must not reach Salesforce again.
  isOwn(msg) {
    if (msg.cause !== 'command' || typeof msg.reqId !== 'string') {
      return false;
    }
    return this.pending.has(msg.reqId) || this.succeeded.has(msg.reqId);
  }

  onEventFrame(msg) {
    if (typeof msg.seq === 'number') {
      if (msg.seq <= this.lastSeq) {
        return; // already seen (a replay overlapping what we had)
      }
      if (this.lastSeq > 0 && msg.seq !== this.lastSeq + 1) {
        this.log('error', `event seq jumped from ${this.lastSeq} to ${msg.seq}`);
      }
      this.lastSeq = msg.seq;
    }
    if (msg.event === 'session.revoked') {
      // The close (4002) follows; tell the connector now so it shows the login.
      if (this.cb.onEvent) {
        this.cb.onEvent(msg);
      }
      this.sessionLost(protocolError('LOGIN_REQUIRED', (msg.data && msg.data.reason) || 'session revoked'));
      return;
    }
    if (this.isOwn(msg)) {
      this.log('debug', `event ${msg.event} seq ${msg.seq} is our own ${msg.reqId}; not published`);
      return;
    }
    if (this.cb.onEvent) {
      this.cb.onEvent(msg);
    }
  }
}
