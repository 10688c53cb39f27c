// The browser test: headless Chromium (Debian's, never a downloaded one) opens the stand-in
// Salesforce page on https://test.lightning.force.com, which embeds the connector served by the
// scripted agent peer on https://bridge.scvbridge.test; both names resolve to 127.0.0.1 through
// Chromium's host resolver rules, and the test CA is trusted through an NSS database in the
// HOME the caller prepared. Prints "PASS name" / "FAIL name: why" lines and exits non-zero when
// anything failed.
//
//   node driver.mjs --pki DIR --home DIR --profile DIR --web DIR --out DIR [--suite NAME]
//                   [--emulator URL --emu-ca FILE]   (the Salesforce emulator, for outbound calls)

import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { createServer, request } from 'node:https';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startPeer } from './peer.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
// The test's npm packages come from the connector's lockfile (make web installs them).
const require = createRequire(join(root, 'scv', 'web', 'package.json'));
const { chromium } = require('playwright-core');
const { WebSocketServer } = require('ws');

const opt = {};
for (let i = 2; i < process.argv.length; i += 2) {
  opt[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}
const SUITE = opt.suite || 'integration/connector_test';
const HOST_NAME = 'test.lightning.force.com';
const BRIDGE_NAME = 'bridge.scvbridge.test';
const ORG_ID = '00D000000000001AAA';
const USER_ID = '005000000000001AAA';
const TOKEN_TTL_MS = 9000;
const WAIT_MS = 8000;

let passed = 0;
let failed = 0;
function pass(name) {
  console.log(`PASS ${SUITE}/${name}`);
  passed++;
}
function fail(name, why) {
  console.log(`FAIL ${SUITE}/${name}: ${why}`);
  failed++;
}
function check(name, ok, why) {
  if (ok) {
    pass(name);
  } else {
    fail(name, why);
  }
  return ok;
}
function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
async function until(fn, ms = WAIT_MS) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) {
      return v;
    }
    if (Date.now() > end) {
      return null;
    }
    await sleep(50);
  }
}

// One JSON request to the Salesforce emulator: {status, body}.
function emulator(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = request(`${opt.emulator}${path}`, { method, ca: emuCa, headers: { 'Content-Type': 'application/json' }, timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode, body: JSON.parse(text) });
        } catch (e) {
          resolve({ status: res.statusCode, body: text });
        }
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
let emuCa = null;

// The stand-in Salesforce's backend for what the page asks of it: POST /sf/connectorCalls is
// Salesforce making the VoiceCall of a call it learnt of from the connector's CALL_STARTED.
async function sfBackend(req, res) {
  let text = '';
  for await (const c of req) {
    text += c;
    if (text.length > 4096) {
      res.writeHead(413).end();
      return;
    }
  }
  if (!opt.emulator) {
    res.writeHead(501).end();
    return;
  }
  try {
    const spec = JSON.parse(text);
    const r = await emulator('POST', '/emulator/connectorCalls', {
      org: ORG_ID, callCenterApiName: 'AcmeCC', vendorCallKey: spec.vendorCallKey, callType: spec.callType, phoneNumber: spec.phoneNumber,
    });
    res.writeHead(r.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(r.body));
  } catch (e) {
    res.writeHead(502).end();
  }
}

// A static HTTPS server for the stand-in Salesforce page, and its backend.
async function startHost(cert, key) {
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' };
  const server = createServer({ cert, key }, async (req, res) => {
    const p = new URL(req.url, 'https://host.invalid').pathname;
    if (req.method === 'POST' && p === '/sf/connectorCalls') {
      await sfBackend(req, res);
      return;
    }
    const name = p === '/' ? 'index.html' : p.slice(1);
    if (!/^[a-z]+\.(html|js|css)$/.test(name)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const data = await readFile(join(here, 'host', name));
      res.writeHead(200, { 'Content-Type': types[extname(name)] }).end(data);
    } catch (e) {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

async function main() {
  const cert = await readFile(join(opt.pki, 'web.pem'));
  const key = await readFile(join(opt.pki, 'web.key'));
  emuCa = opt['emu-ca'] ? await readFile(opt['emu-ca']) : null;
  const hostServer = await startHost(cert, key);
  const hostOrigin = `https://${HOST_NAME}:${hostServer.address().port}`;
  // The connector and its login page are served by the bridge: its origin is the one allowed,
  // known once the port is.
  const allowedOrigins = [];
  const peer = await startPeer({ cert, key, webDir: opt.web, orgId: ORG_ID, tokenTtlMs: TOKEN_TTL_MS, WebSocketServer, allowedOrigins });
  const bridgeOrigin = `https://${BRIDGE_NAME}:${peer.port}`;
  allowedOrigins.push(bridgeOrigin);

  const ctx = await chromium.launchPersistentContext(opt.profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    env: { ...process.env, HOME: opt.home },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--host-resolver-rules=MAP ${HOST_NAME} 127.0.0.1, MAP ${BRIDGE_NAME} 127.0.0.1`,
    ],
    viewport: { width: 1100, height: 900 },
  });
  const consoleErrors = [];
  try {
    const page = ctx.pages()[0] || (await ctx.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') {
        consoleErrors.push(m.text());
      }
    });
    await scenario(page, ctx, peer, { hostOrigin, bridgeOrigin });
  } finally {
    await ctx.close();
    await peer.close();
    hostServer.closeAllConnections();
    hostServer.close();
  }
  if (failed > 0 && consoleErrors.length > 0) {
    console.log(`browser console errors:\n  ${consoleErrors.slice(-10).join('\n  ')}`);
  }
}

async function scenario(page, ctx, peer, { hostOrigin, bridgeOrigin }) {
  const connectorUrl = `${bridgeOrigin}/connector/index.html`;
  const hostUrl = `${hostOrigin}/index.html?connector=${encodeURIComponent(connectorUrl)}&org=${ORG_ID}&user=${USER_ID}`;

  const hostLog = () => page.evaluate(() => window.scvHost.log.map((e) => ({ n: e.n, dir: e.dir, type: e.type, data: e.data })));
  // TELEPHONY_EVENT_DISPATCHED events of one type after entry `since`.
  const dispatched = async (type, since = 0) => (await hostLog()).filter((e) => e.n > since && e.dir === 'in' &&
    e.type === 'TELEPHONY_EVENT_DISPATCHED' && e.data.payload.telephonyEventType === type).map((e) => ({ n: e.n, payload: e.data.payload.telephonyEventPayload }));
  const waitDispatched = (type, since) => until(async () => (await dispatched(type, since))[0] || null);
  const lastN = async () => (await hostLog()).length;
  const ready = async (since = 0) => (await hostLog()).find((e) => e.n > since && e.dir === 'in' && e.type === 'CONNECTOR_READY');
  const send = (type, data) => page.evaluate(([t, d]) => window.scvHost.send(t, d), [type, data]);
  const loginFrame = () => page.frameLocator('#connector').frameLocator('#login');

  const resp = await page.goto(hostUrl);
  check('host_page_https_trusted', resp && resp.ok(), `host page did not load over trusted HTTPS (${resp && resp.status()})`);

  // 1. The login page.
  const showLogin = await waitDispatched('SHOW_LOGIN', 0);
  check('init_shows_login', showLogin && showLogin.payload.loginFrameHeight > 0,
    `no SHOW_LOGIN from the base library after SETUP_CONNECTOR: ${JSON.stringify(await hostLog()).slice(0, 300)}`);
  const lf = loginFrame();
  // The login page's script has run (its handler is on the form) once body carries data-ready.
  const loginReady = async () => {
    try {
      await lf.locator('body[data-ready="1"]').waitFor({ timeout: WAIT_MS });
      return true;
    } catch (e) {
      return false;
    }
  };
  const cc = (await loginReady()) ? await lf.locator('#contactCenter').inputValue() : '(no login form)';
  check('login_prefills_contact_center', cc === 'AcmeCC', `contact center field is '${cc}'`);

  await lf.locator('#username').fill('alice');
  await lf.locator('#password').fill('wrong password');
  await lf.locator('#submit').click();
  const wrongText = await until(async () => {
    const t = await lf.locator('#status').textContent();
    return t && t !== 'Signing in…' ? t : null;
  });
  const wrongLogin = peer.rec.logins.find((l) => l.username === 'alice');
  check('login_refuses_wrong_password', wrongText === 'Wrong user name or password.' && wrongLogin && wrongLogin.status === 401 &&
    peer.rec.hellos.length === 0, `status '${wrongText}', peer saw ${JSON.stringify(peer.rec.logins)}, hellos ${peer.rec.hellos.length}`);
  await page.screenshot({ path: join(opt.out, 'login.png') });

  // Three failures lock an agent out for a while: the page says so, with the wait.
  await lf.locator('#username').fill('bob');
  let rateText = '';
  for (let i = 0; i < 4; i++) {
    const want = peer.rec.logins.length + 1;
    await lf.locator('#password').fill(`guess ${i}`);
    await lf.locator('#submit').click();
    await until(async () => peer.rec.logins.length >= want && (await lf.locator('#submit').isEnabled()));
    rateText = await lf.locator('#status').textContent();
  }
  check('login_rate_limited_message', rateText === 'Too many failed attempts. Try again in 30 seconds.' &&
    peer.rec.logins.at(-1).status === 429, `after 4 wrong passwords the page says '${rateText}'`);

  await lf.locator('#username').fill('alice');
  await lf.locator('#password').fill('correct horse');
  await lf.locator('#submit').click();

  // 2. CONNECTOR_READY: desk phone, honest capabilities.
  const r1 = await until(() => ready(0));
  const goodLogin = peer.rec.logins.find((l) => l.status === 200);
  check('login_page_works', r1 && goodLogin && goodLogin.origin === bridgeOrigin && goodLogin.cookie === '' &&
    goodLogin.orgId === ORG_ID &&
    peer.rec.hellos.length === 1, `no CONNECTOR_READY after a good login (logins ${JSON.stringify(peer.rec.logins)})`);
  const h1 = peer.rec.hellos[0] || {};
  check('hello_binds_org_and_user', h1.orgId === ORG_ID && h1.userId === USER_ID && h1.origin === bridgeOrigin && h1.resumeFrom === undefined,
    `hello carried ${JSON.stringify(h1)}`);
  const p = (r1 && r1.data.payload) || {};
  const ac = p.agentConfig || {};
  check('ready_desk_phone', JSON.stringify(ac.PHONES) === '["DESK_PHONE"]' && ac.SELECTED_PHONE && ac.SELECTED_PHONE.type === 'DESK_PHONE' &&
    ac.SELECTED_PHONE.number === '+15550107001', `agentConfig ${JSON.stringify(ac)}`);
  const caps = p.capabilities || {};
  check('ready_honest_capabilities', caps.MUTE === false && caps.RECORD === false && caps.MERGE === false && caps.SWAP === false &&
    caps.BLIND_TRANSFER === true && caps.CONTACT_SEARCH === true && caps.VENDOR_PROVIDED_AVAILABILITY === true &&
    caps.SUPERVISOR_LISTEN_IN === false && caps.MOS === false && caps.SIGNED_RECORDING_URL === false,
  `capabilities ${JSON.stringify(caps)}`);
  check('ready_no_call_in_progress', r1 && p.callInProgress === null, `callInProgress ${JSON.stringify(p.callInProgress)}`);
  // A third-party frame may not even be allowed to look at its storage: that counts as empty.
  const store = await page.frame({ url: /\/connector\/index\.html/ })?.evaluate(() => {
    const size = (get) => {
      try {
        return get().length;
      } catch (e) {
        return 0;
      }
    };
    return { cookie: document.cookie, local: size(() => localStorage), session: size(() => sessionStorage) };
  });
  const cookies = await ctx.cookies();
  check('no_cookies_no_storage', store && store.cookie === '' && store.local === 0 && store.session === 0 && cookies.length === 0,
    `connector frame storage ${JSON.stringify(store)}, cookies ${cookies.length}`);

  // 3. An inbound call: ringing, then answered on the desk phone.
  const callId = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
  let mark = await lastN();
  peer.startInboundCall({ callId, voiceCallId: '0LQ000000000001AAA', from: '+15550199999' });
  const started = await waitDispatched('CALL_STARTED', mark);
  const sc = started && started.payload;
  check('call_started', sc && sc.callId === callId && sc.callAttributes && sc.callAttributes.voiceCallId === '0LQ000000000001AAA' &&
    sc.state === 'ringing' && sc.callType === 'Inbound' && sc.callInfo && sc.callInfo.isSoftphoneCall === false,
  `CALL_STARTED payload ${JSON.stringify(sc)}`);
  mark = await lastN();
  peer.connectCall(callId);
  const connected = await waitDispatched('CALL_CONNECTED', mark);
  check('call_connected', connected && connected.payload.callId === callId && connected.payload.state === 'connected',
    `CALL_CONNECTED ${JSON.stringify(connected)}`);

  const callArg = { call: { callId, callType: 'Inbound', callAttributes: { participantType: 'Initial_Caller' } } };

  // 4. HOLD from Salesforce: a command to the bridge, one HOLD_TOGGLE back (the bridge's
  // hold.changed caused by that command is not published a second time).
  mark = await lastN();
  const holdsBefore = peer.commandsOf('hold').length;
  await send('HOLD', callArg);
  const held = await waitDispatched('HOLD_TOGGLE', mark);
  const holdCmd = peer.commandsOf('hold')[holdsBefore];
  check('hold_command_reaches_bridge', holdCmd && holdCmd.args.call.callId === callId && !('phoneNumber' in holdCmd.args.call),
    `peer got ${JSON.stringify(holdCmd)}`);
  check('hold_toggle_on_page', held && held.payload.isCustomerOnHold === true && held.payload.calls[callId] &&
    held.payload.calls[callId].callAttributes.isOnHold === true, `HOLD_TOGGLE ${JSON.stringify(held)}`);
  await sleep(600);
  const holdToggles = await dispatched('HOLD_TOGGLE', mark);
  check('own_event_not_published_twice', holdToggles.length === 1,
    `${holdToggles.length} HOLD_TOGGLE for one HOLD (the bridge also sent hold.changed with cause command)`);

  // The phone itself resumes: a switch-side event, published.
  mark = await lastN();
  peer.phoneHold(callId, false);
  const resumedByPhone = await waitDispatched('HOLD_TOGGLE', mark);
  check('switch_event_published', resumedByPhone && resumedByPhone.payload.isCustomerOnHold === false,
    `no HOLD_TOGGLE for the phone's own resume: ${JSON.stringify(resumedByPhone)}`);

  // 5. An error answer surfaces as the base library's error, with the bridge's type.
  mark = await lastN();
  peer.failNext('hold', { type: 'INVALID_PARTICIPANT', message: 'not your call' });
  await send('HOLD', callArg);
  const err = await waitDispatched('ERROR', mark);
  const noToggle = (await dispatched('HOLD_TOGGLE', mark)).length === 0;
  check('error_answer_surfaces', err && err.payload.message === 'INVALID_PARTICIPANT' && noToggle,
    `ERROR ${JSON.stringify(err)}, HOLD_TOGGLE published anyway: ${!noToggle}`);
  mark = await lastN();
  peer.failNext('resume', { type: 'CAN_NOT_RESUME_CALL', message: 'phone busy' });
  await send('RESUME', callArg);
  const err2 = await waitDispatched('ERROR', mark);
  check('error_answer_resume', err2 && err2.payload.message === 'CAN_NOT_RESUME_CALL', `ERROR ${JSON.stringify(err2)}`);

  // 6. The other commands Salesforce sends during a call.
  await send('SEND_DIGITS', { digits: '12#' });
  const digits = await until(() => peer.commandsOf('sendDigits')[0]);
  check('send_digits', digits && digits.args.digits === '12#', `peer got ${JSON.stringify(digits)}`);
  mark = await lastN();
  await send('GET_PHONE_CONTACTS', { filter: { contains: 'a' } });
  const pc = await waitDispatched('PHONE_CONTACTS', mark);
  const gc = peer.commandsOf('getContacts')[0];
    // "a" is in the queue's and Bob's names, not in "Front desk".
  check('get_contacts', pc && pc.payload.contacts.length === 2 && pc.payload.contacts.some((c) => c.type === 'Queue' && c.id === 'q-sales') &&
    pc.payload.contacts.some((c) => c.type === 'Agent' && c.availability === 'AVAILABLE') &&
    gc && gc.args.filter.contains === 'a', `PHONE_CONTACTS ${JSON.stringify(pc)}, command ${JSON.stringify(gc)}`);
  mark = await lastN();
  await send('SET_AGENT_STATUS', { agentStatus: 'Online', statusInfo: { statusId: '0N5000000000001', statusApiName: 'Available' } });
  const sas = await waitDispatched('SET_AGENT_STATUS_RESULT', mark);
  const sasCmd = peer.commandsOf('setAgentStatus')[0];
  check('set_agent_status', sas && sas.payload.success === true && sasCmd && sasCmd.args.agentStatus === 'Online' &&
    sasCmd.args.statusInfo.statusId === '0N5000000000001', `result ${JSON.stringify(sas)}, command ${JSON.stringify(sasCmd)}`);

  // 7. The socket drops: the connector reconnects with resumeFrom and gets what it missed.
  const seqBefore = peer.lastSeq();
  peer.dropSockets();
  await until(() => peer.socketCount() === 0, 2000);
  mark = await lastN();
  peer.phoneHold(callId, true); // while the connector is away
  const missed = await waitDispatched('HOLD_TOGGLE', mark);
  const h2 = peer.rec.hellos[1] || {};
  check('reconnect_resumes_events', missed && missed.payload.isCustomerOnHold === true && h2.resumeFrom === seqBefore,
    `after a drop: hello ${JSON.stringify(h2)} (want resumeFrom ${seqBefore}), HOLD_TOGGLE ${JSON.stringify(missed)}`);
  mark = await lastN();
  await send('RESUME', callArg);
  await waitDispatched('HOLD_TOGGLE', mark);

  // 8. A reload mid-call: log in again, and the call comes back (CONNECTOR_READY's
  // callInProgress, and the base library's replay on AGENT_AVAILABLE from getActiveCalls).
  mark = await lastN();
  await page.evaluate(() => window.scvHost.reload());
  const showLogin2 = await waitDispatched('SHOW_LOGIN', mark);
  if (showLogin2 && (await loginReady())) {
    await lf.locator('#username').fill('alice', { timeout: WAIT_MS });
    await lf.locator('#password').fill('correct horse');
    await lf.locator('#submit').click();
  }
  const r2 = await until(() => ready(mark));
  const cip = r2 && r2.data.payload.callInProgress;
  check('reload_ready_with_call', cip && cip.callId === callId && cip.state === 'connected', `CONNECTOR_READY after reload ${JSON.stringify(r2 && r2.data.payload)}`);
  mark = await lastN();
  const gacBefore = peer.commandsOf('getActiveCalls').length;
  await send('AGENT_AVAILABLE', { isAvailable: true });
  const replayed = await waitDispatched('CALL_CONNECTED', mark);
  check('reload_replays_call', replayed && replayed.payload.callId === callId && replayed.payload.isReplayedCall === true &&
    peer.commandsOf('getActiveCalls').length > gacBefore, `replay ${JSON.stringify(replayed)}`);

  // 9. END_CALL: an end command, one HANGUP.
  mark = await lastN();
  await send('END_CALL', callArg);
  const hang = await waitDispatched('HANGUP', mark);
  const endCmd = peer.commandsOf('end')[0];
  check('end_call', endCmd && endCmd.args.call.callId === callId && hang && Array.isArray(hang.payload) && hang.payload[0].callId === callId &&
    hang.payload[0].reason === 'ended', `end command ${JSON.stringify(endCmd)}, HANGUP ${JSON.stringify(hang)}`);
  await sleep(600);
  const hangups = await dispatched('HANGUP', mark);
  check('end_call_one_hangup', hangups.length === 1, `${hangups.length} HANGUP for one END_CALL`);

  // 10. DIAL: the base library publishes CALL_STARTED from the answer; the bridge's own
  // call.started for that command is not published again. Then the far end hangs up.
  mark = await lastN();
  await send('DIAL', { contact: { phoneNumber: '+15550123456' } });
  const dialed = await waitDispatched('CALL_STARTED', mark);
  const dialCmd = peer.commandsOf('dial')[0];
  await sleep(600);
  const dialStarts = await dispatched('CALL_STARTED', mark);
  check('dial', dialCmd && dialCmd.args.contact.phoneNumber === '+15550123456' && dialed && dialed.payload.callType === 'Outbound' &&
    dialStarts.length === 1, `dial command ${JSON.stringify(dialCmd)}, CALL_STARTED x${dialStarts.length}`);
  // Salesforce makes the outbound call's VoiceCall from that CALL_STARTED (the bridge never
  // creates it through the API); the bridge later closes it by vendorCallKey.
  if (dialed && opt.emulator) {
    const made = await until(async () => (await hostLog()).find((e) => e.type === 'SF_VOICECALL' && e.data.vendorCallKey === dialed.payload.callId));
    const recs = await emulator('GET', '/emulator/voiceCalls');
    const rec = Array.isArray(recs.body) && recs.body.find((r) => r.vendorCallKey === dialed.payload.callId);
    check('outbound_voicecall_made', made && made.data.status === 200 && /^0LQ/.test(made.data.voiceCallId || '') && rec &&
      rec.create && rec.create.initiationMethod === 'Outbound', `page ${JSON.stringify(made && made.data)}, emulator ${JSON.stringify(rec || recs.status)}`);
  }
  if (dialed) {
    mark = await lastN();
    peer.hangupCall(dialed.payload.callId);
    const farHang = await waitDispatched('HANGUP', mark);
    check('far_end_hangup', farHang && farHang.payload[0].callId === dialed.payload.callId, `HANGUP ${JSON.stringify(farHang)}`);
  }

  // 11. The token was refreshed at two thirds of its life (9 s TTL here), counted from the
  // last login (the reload's).
  const lastLogin = peer.rec.logins.filter((l) => l.status === 200).at(-1);
  const refresh = await until(() => peer.commandsOf('auth.refresh').find((c) => c.at > lastLogin.at), TOKEN_TTL_MS);
  const sinceLogin = refresh ? refresh.at - lastLogin.at : -1;
  check('token_refresh', refresh && sinceLogin >= TOKEN_TTL_MS * 0.6 && sinceLogin < TOKEN_TTL_MS,
    `auth.refresh ${refresh ? `${sinceLogin} ms after hello` : 'never sent'} (TTL ${TOKEN_TTL_MS} ms)`);

  await page.screenshot({ path: join(opt.out, 'host-event-log.png'), fullPage: true });
}

main().then(() => {
  process.exit(failed > 0 ? 1 : 0);
}, (e) => {
  fail('driver', e.stack || String(e));
  process.exit(1);
});
