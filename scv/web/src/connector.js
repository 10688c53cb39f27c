// The VendorConnector of scvbridge: each Salesforce method becomes one agent-protocol command,
// each daemon event becomes one publishEvent. It keeps no call state of its own: the daemon is the
// source of truth (PROTOCOL.md), and getActiveCalls asks it every time.
//
// Written against @salesforce/scv-connector-base 3.6.2, where the voice methods (acceptCall,
// hold, dial, getPhoneContacts, getCapabilities ...) live on VendorConnector itself. For 4.x they
// move to a TelephonyConnector returned by getTelephonyConnector(), getCapabilities splits into
// getSharedCapabilities + getVoiceCapabilities, and getContacts(filter, workItemId) joins
// getPhoneContacts; the mapping below stays the same.

import {
  AgentConfigResult,
  CallResult,
  CapabilitiesResult,
  Constants,
  GenericResult,
  InitResult,
  LogoutResult,
  Phone,
  VendorConnector,
  publishError,
  publishEvent,
} from '@salesforce/scv-connector-base';

import {
  callRef,
  contactRef,
  toActiveCallsResult,
  toAgentStatusInfo,
  toAgentVendorStatusInfo,
  toCallResult,
  toHangupResult,
  toHoldToggleResult,
  toParticipantResult,
  toPhoneCall,
  toPhoneContactsResult,
} from './wire.js';

export const CONNECTOR_VERSION = '0.1.0';
export const LOGIN_FRAME_HEIGHT = 420;

const EV = Constants.EVENT_TYPE;

// Protocol event -> [base event type, rebuild of its data]. PROTOCOL.md §5.
const EVENT_MAP = {
  'call.started': [EV.CALL_STARTED, toCallResult],
  'call.connected': [EV.CALL_CONNECTED, toCallResult],
  'call.hangup': [EV.HANGUP, toHangupResult],
  'participant.added': [EV.PARTICIPANT_ADDED, toParticipantResult],
  'participant.connected': [EV.PARTICIPANT_CONNECTED, toParticipantResult],
  'participant.removed': [EV.PARTICIPANT_REMOVED, toCallResult],
  'hold.changed': [EV.HOLD_TOGGLE, toHoldToggleResult],
  'agent.status': [EV.SET_AGENT_STATUS, toAgentStatusInfo],
  'acw.started': [EV.AFTER_CALL_WORK_STARTED, (d) => ({ callId: d && d.callId })],
  'acw.ended': [EV.WRAP_UP_ENDED, (d) => ({ callId: d && d.callId })],
};

// publishError needs an event type the base knows; a malformed event is reported as the error
// of the event it tried to be.
const ERROR_EVENT = {
  [EV.SET_AGENT_STATUS]: EV.AGENT_ERROR,
  [EV.AFTER_CALL_WORK_STARTED]: EV.AGENT_ERROR,
  [EV.WRAP_UP_ENDED]: EV.AGENT_ERROR,
};

// A reject value for the base library: {type, message}, the type one of its error names.
function fail(type, message) {
  return Promise.reject({ type, message });
}

// Runs a command and rebuilds its data; a malformed answer becomes `errorType`, not a throw
// deep inside the base library.
async function run(socket, op, args, rebuild, errorType) {
  const data = await socket.command(op, args);
  try {
    return rebuild(data);
  } catch (e) {
    throw { type: errorType, message: `${op}: malformed answer from the bridge (${e.message})` };
  }
}

export class ScvbConnector extends VendorConnector {
  // socket: an AgentSocket. ui: {showLogin(hint), hideLogin(), log(level, text)} from the page.
  constructor({ socket, ui }) {
    super();
    this.socket = socket;
    this.ui = ui;
    this.config = {};
    this.hello = null;
    socket.cb.onEvent = (msg) => this.onEvent(msg);
    socket.cb.onHello = (data, resumed) => this.onHello(data, resumed);
    socket.cb.onAuthLost = (err) => this.onAuthLost(err);
  }

  /* ---- session ---- */

  // Salesforce's SETUP_CONNECTOR. There is no token yet (no cookies, no storage): show the login.
  init(connectorConfig) {
    this.config = connectorConfig || {};
    this.ui.showLogin({ contactCenter: this.config['/reqGeneralInfo/reqInternalName'] || '', orgId: this.config.organizationId || '' });
    return Promise.resolve(new InitResult({ showLogin: true, loginFrameHeight: LOGIN_FRAME_HEIGHT }));
  }

  // The login page handed us a token. Says hello; on success Salesforce is told LOGIN_RESULT
  // (and the base then gathers agent config, capabilities and active calls: CONNECTOR_READY).
  async loginWithToken(token, expiresAt) {
    try {
      this.hello = await this.socket.start({
        token,
        expiresAt,
        receivedAt: Date.now(),
        orgId: this.config.organizationId || '',
        userId: this.config.userId || '',
        connectorVersion: CONNECTOR_VERSION,
      });
    } catch (e) {
      publishError({ eventType: EV.LOGIN_RESULT, error: e });
      this.ui.showLogin({ contactCenter: this.config['/reqGeneralInfo/reqInternalName'] || '', orgId: this.config.organizationId || '', error: e.message || e.type });
      return false;
    }
    this.ui.hideLogin();
    publishEvent({ eventType: EV.LOGIN_RESULT, payload: new GenericResult({ success: true }) });
    return true;
  }

  onHello(data, resumed) {
    this.hello = data;
    if (resumed && data.replay !== 'events') {
      // What we missed is gone: republish the calls as the daemon holds them now.
      this.republish(data.activeCalls || []);
    }
  }

  republish(activeCalls) {
    for (const c of activeCalls) {
      let call;
      try {
        call = toPhoneCall(c);
      } catch (e) {
        this.ui.log('error', `snapshot call malformed: ${e.message}`);
        continue;
      }
      const type = call.state === Constants.CALL_STATE.CONNECTED ? EV.CALL_CONNECTED : EV.CALL_STARTED;
      publishEvent({ eventType: type, payload: new CallResult({ call }) });
    }
  }

  onAuthLost(err) {
    this.hello = null;
    publishEvent({ eventType: EV.LOGOUT_RESULT, payload: new LogoutResult({ success: true, loginFrameHeight: LOGIN_FRAME_HEIGHT }) });
    this.ui.showLogin({ contactCenter: this.config['/reqGeneralInfo/reqInternalName'] || '', orgId: this.config.organizationId || '', error: err.message });
  }

  onEvent(msg) {
    if (msg.event === 'session.revoked') {
      return; // onAuthLost follows at once
    }
    const entry = EVENT_MAP[msg.event];
    if (!entry) {
      this.ui.log('info', `event ${msg.event} not known to this connector; ignored`);
      return;
    }
    const [eventType, rebuild] = entry;
    let payload;
    try {
      payload = rebuild(msg.data);
    } catch (e) {
      // Never silently: Salesforce shows an error for the event it could not get.
      this.ui.log('error', `event ${msg.event} malformed: ${e.message}`);
      publishError({ eventType: ERROR_EVENT[eventType] || eventType, error: { type: 'GENERIC_ERROR', message: e.message } });
      return;
    }
    publishEvent({ eventType, payload });
  }

  logout() {
    // v1 has no logout command: the token dies with its TTL; this tab forgets it at once.
    this.socket.stop();
    this.hello = null;
    this.ui.showLogin({ contactCenter: this.config['/reqGeneralInfo/reqInternalName'] || '', orgId: this.config.organizationId || '' });
    return Promise.resolve(new LogoutResult({ success: true, loginFrameHeight: LOGIN_FRAME_HEIGHT }));
  }

  /* ---- what Salesforce asks at CONNECTOR_READY ---- */

  // Desk phone only (PROTOCOL.md §7): audio stays on the agent's SIP phone.
  getAgentConfig() {
    const agent = (this.hello && this.hello.agent) || {};
    const number = typeof agent.phone === 'string' && agent.phone !== '' ? agent.phone : undefined;
    return Promise.resolve(new AgentConfigResult({
      phones: [Constants.PHONE_TYPE.DESK_PHONE],
      selectedPhone: new Phone({ type: Constants.PHONE_TYPE.DESK_PHONE, number }),
    }));
  }

  setAgentConfig(config) {
    const phone = config && config.selectedPhone;
    if (phone && phone.type && phone.type !== Constants.PHONE_TYPE.DESK_PHONE) {
      return fail('CAN_NOT_SET_AGENT_CONFIG', 'only the desk phone is supported');
    }
    const agent = (this.hello && this.hello.agent) || {};
    if (phone && phone.number && phone.number !== agent.phone) {
      return fail('CAN_NOT_UPDATE_PHONE_NUMBER', 'the desk phone number is set in the bridge configuration');
    }
    return Promise.resolve(new GenericResult({ success: true }));
  }

  // Honest capabilities: what the daemon says it does, and never a button for which v1 has no
  // command (mute is the phone's own, no recording control, no merge or swap).
  getCapabilities() {
    const c = (this.hello && this.hello.capabilities) || {};
    const flag = (name) => c[name] === true;
    return Promise.resolve(new CapabilitiesResult({
      hasMute: false,
      hasRecord: false,
      hasMerge: false,
      hasSwap: false,
      hasSignedRecordingUrl: false,
      supportsMos: false,
      hasSupervisorListenIn: false,
      hasSupervisorBargeIn: false,
      debugEnabled: c.debugEnabled !== false,
      hasContactSearch: flag('hasContactSearch'),
      hasAgentAvailability: flag('hasAgentAvailability'),
      hasQueueWaitTime: flag('hasQueueWaitTime'),
      hasBlindTransfer: flag('hasBlindTransfer'),
      hasTransferToOmniFlow: flag('hasTransferToOmniFlow'),
      hasPendingStatusChange: flag('hasPendingStatusChange'),
      hasPhoneBook: flag('hasPhoneBook'),
    }));
  }

  getActiveCalls() {
    return run(this.socket, 'getActiveCalls', {}, toActiveCallsResult, 'GENERIC_ERROR');
  }

  /* ---- call control ---- */

  acceptCall(call) {
    return run(this.socket, 'accept', { call: callRef(call) }, toCallResult, 'CAN_NOT_ACCEPT_THE_CALL');
  }

  declineCall(call) {
    return run(this.socket, 'decline', { call: callRef(call) }, toCallResult, 'CAN_NOT_DECLINE_THE_CALL');
  }

  endCall(call, agentStatus) {
    const args = { call: callRef(call) };
    if (typeof agentStatus === 'string') {
      args.agentStatus = agentStatus;
    }
    return run(this.socket, 'end', args, toHangupResult, 'CAN_NOT_END_THE_CALL');
  }

  hold(call) {
    return run(this.socket, 'hold', { call: callRef(call) }, toHoldToggleResult, 'CAN_NOT_HOLD_CALL');
  }

  resume(call) {
    return run(this.socket, 'resume', { call: callRef(call) }, toHoldToggleResult, 'CAN_NOT_RESUME_CALL');
  }

  // 3.6.2 passes the digits only; the daemon picks the agent's connected call.
  async sendDigits(digits) {
    await this.socket.command('sendDigits', { digits: String(digits) });
  }

  // 3.6.2 passes the Contact only (no DialOptions: isCallback arrives with 4.x).
  dial(contact) {
    return run(this.socket, 'dial', { contact: contactRef(contact) }, toCallResult, 'CAN_NOT_START_THE_CALL');
  }

  addParticipant(contact, call, isBlindTransfer) {
    return run(this.socket, 'addParticipant',
      { contact: contactRef(contact), call: callRef(call), isBlindTransfer: isBlindTransfer === true },
      toParticipantResult, 'CAN_NOT_ADD_PARTICIPANT');
  }

  // GET_PHONE_CONTACTS in 3.6.2 (4.x: getContacts(filter, workItemId) -> ContactsResult).
  getPhoneContacts(filter) {
    const f = {};
    if (filter && typeof filter === 'object') {
      for (const k of ['contains', 'types', 'limit', 'offset']) {
        if (filter[k] !== undefined && filter[k] !== null) {
          f[k] = filter[k];
        }
      }
    }
    return run(this.socket, 'getContacts', { filter: f }, toPhoneContactsResult, 'CAN_NOT_GET_PHONE_CONTACTS');
  }

  wrapUpCall(call) {
    this.socket.command('wrapUp', { call: callRef(call) }).catch((e) => {
      publishError({ eventType: EV.AGENT_ERROR, error: e });
    });
  }

  /* ---- agent status ---- */

  setAgentStatus(agentStatus, statusInfo) {
    const args = { agentStatus };
    if (statusInfo && typeof statusInfo === 'object') {
      args.statusInfo = {};
      for (const k of ['statusId', 'statusApiName', 'statusName']) {
        if (typeof statusInfo[k] === 'string') {
          args.statusInfo[k] = statusInfo[k];
        }
      }
    }
    return run(this.socket, 'setAgentStatus', args, (d) => new GenericResult({ success: d.success !== false }), 'CAN_NOT_SET_AGENT_STATUS');
  }

  getAgentStatus() {
    return run(this.socket, 'getAgentStatus', {}, toAgentVendorStatusInfo, 'CAN_NOT_GET_AGENT_STATUS');
  }

  /* ---- what desk-phone mode does not do: declared false above, refused here ---- */

  mute() {
    return fail('CAN_NOT_MUTE_CALL', 'mute is on the desk phone');
  }

  unmute() {
    return fail('CAN_NOT_UNMUTE_CALL', 'mute is on the desk phone');
  }

  swap() {
    return fail('CAN_NOT_SWAP_PARTICIPANTS', 'not supported by this bridge');
  }

  conference() {
    return fail('CAN_NOT_CONFERENCE', 'not supported by this bridge');
  }

  pauseRecording() {
    return fail('CAN_NOT_PAUSE_RECORDING', 'not supported by this bridge');
  }

  resumeRecording() {
    return fail('CAN_NOT_RESUME_RECORDING', 'not supported by this bridge');
  }

  getSignedRecordingUrl() {
    return fail('CAN_NOT_GET_SIGNED_RECORDING_URL', 'not supported by this bridge');
  }

  superviseCall() {
    return fail('CAN_NOT_SUPERVISE_CALL', 'not supported by this bridge');
  }

  supervisorDisconnect() {
    return fail('CAN_NOT_DISCONNECT_SUPERVISOR', 'not supported by this bridge');
  }

  supervisorBargeIn() {
    return fail('CAN_NOT_BARGE_IN_SUPERVISOR', 'not supported by this bridge');
  }

  /* ---- the rest ---- */

  handleMessage() {}

  downloadLogs() {}

  // Salesforce's LOG messages: to the daemon's debug log, bounded, only while connected.
  logMessageToVendor(level, message) {
    const now = Date.now();
    if (!this.logWindow || now - this.logWindow.start >= 1000) {
      this.logWindow = { start: now, count: 0 };
    }
    if (++this.logWindow.count > 5) {
      return;
    }
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    this.socket.notify('log', { level: String(level || 'INFO'), message: String(text).slice(0, 1024) });
  }
}
