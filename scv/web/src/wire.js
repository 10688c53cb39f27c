// Rebuilds the agent protocol's JSON (PROTOCOL.md §6) into the base library's classes.
//
// The base library checks every result and event payload with `instanceof`, so a plain object
// from the socket is never enough: each PhoneCall, CallInfo, Contact ... is constructed here. The
// wire uses the base library's own field names, so this is a copy, field by field, of the fields
// that @salesforce/scv-connector-base 3.6.2 knows. Each function throws (the base class
// constructors validate types) when the daemon sent something malformed; callers turn that into an
// error the agent sees.
//
// 4.x: PhoneCall gains callSubtype and connectionId, CallInfo gains more switches; add them here
// when the pinned base moves.

import {
  ActiveCallsResult,
  AgentStatusInfo,
  AgentVendorStatusInfo,
  CallInfo,
  CallResult,
  Contact,
  HangupResult,
  HoldToggleResult,
  ParticipantResult,
  PhoneCall,
  PhoneCallAttributes,
  PhoneContactsResult,
} from '@salesforce/scv-connector-base';

const CALL_INFO_BOOLEANS = [
  'isOnHold', 'isMuted', 'isRecordingPaused', 'isSoftphoneCall', 'acceptEnabled',
  'declineEnabled', 'muteEnabled', 'swapEnabled', 'conferenceEnabled', 'holdEnabled',
  'recordEnabled', 'addCallerEnabled', 'extensionEnabled', 'isReplayable', 'isBargeable',
  'isExternalTransfer', 'showMuteButton', 'showRecordButton', 'showAddCallerButton',
  'showAddBlindTransferButton', 'showMergeButton', 'showSwapButton',
];
const CALL_INFO_STRINGS = ['initialCallId', 'queueId', 'queueName', 'removeParticipantVariant'];
const CONTACT_FIELDS = [
  'phoneNumber', 'id', 'type', 'name', 'prefix', 'extension', 'endpointARN', 'queue',
  'availability', 'recordId', 'description', 'queueWaitTime',
];

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function expectObject(v, what) {
  if (!isObject(v)) {
    throw new Error(`${what}: expected an object`);
  }
  return v;
}

// Copies the members of `from` named in `names` whose value is not null/undefined.
function pick(from, names) {
  const out = {};
  for (const n of names) {
    if (from[n] !== undefined && from[n] !== null) {
      out[n] = from[n];
    }
  }
  return out;
}

function toDate(iso, what) {
  const d = new Date(iso);
  if (typeof iso !== 'string' || Number.isNaN(d.getTime())) {
    throw new Error(`${what}: expected an ISO 8601 time`);
  }
  return d;
}

export function toContact(c) {
  if (c === undefined || c === null) {
    return undefined;
  }
  return new Contact(pick(expectObject(c, 'contact'), CONTACT_FIELDS));
}

export function toCallInfo(ci) {
  expectObject(ci, 'callInfo');
  // Desk phone (PROTOCOL.md §7): audio is never in the browser, whatever the daemon omits.
  const args = { isSoftphoneCall: false, ...pick(ci, CALL_INFO_BOOLEANS), ...pick(ci, CALL_INFO_STRINGS) };
  if (ci.callStateTimestamp) {
    args.callStateTimestamp = toDate(ci.callStateTimestamp, 'callInfo.callStateTimestamp');
  }
  if (ci.queueTimestamp) {
    args.queueTimestamp = toDate(ci.queueTimestamp, 'callInfo.queueTimestamp');
  }
  return new CallInfo(args);
}

export function toCallAttributes(a) {
  if (a === undefined || a === null) {
    return new PhoneCallAttributes({});
  }
  expectObject(a, 'callAttributes');
  const attrs = new PhoneCallAttributes(
    pick(a, ['voiceCallId', 'participantType', 'dialerType', 'parentId', 'isOnHold', 'hasSupervisorBargedIn']));
  // Not a constructor argument in 3.6.2, but the base reads it when it replays a transfer.
  if (typeof a.initialCallHasEnded === 'boolean') {
    attrs.initialCallHasEnded = a.initialCallHasEnded;
  }
  return attrs;
}

export function toPhoneCall(c) {
  expectObject(c, 'call');
  if (typeof c.callId !== 'string' || c.callId === '') {
    throw new Error('call.callId: expected a non-empty string');
  }
  const args = pick(c, ['callId', 'callType', 'state', 'phoneNumber', 'reason', 'closeCallOnError', 'agentStatus']);
  args.contact = toContact(c.contact);
  args.callAttributes = toCallAttributes(c.callAttributes);
  if (c.callInfo !== undefined && c.callInfo !== null) {
    args.callInfo = toCallInfo(c.callInfo);
  }
  return new PhoneCall(args);
}

function toCallList(list, what) {
  if (!Array.isArray(list)) {
    throw new Error(`${what}: expected an array`);
  }
  return list.map(toPhoneCall);
}

export function toCallResult(data) {
  return new CallResult({ call: toPhoneCall(expectObject(data, 'data').call) });
}

export function toHangupResult(data) {
  return new HangupResult({ calls: toCallList(expectObject(data, 'data').calls, 'calls') });
}

export function toActiveCallsResult(data) {
  return new ActiveCallsResult({ activeCalls: toCallList(expectObject(data, 'data').activeCalls, 'activeCalls') });
}

// `calls` is a map callId -> PhoneCall on the wire and in the base class.
export function toHoldToggleResult(data) {
  expectObject(data, 'data');
  let calls;
  if (data.calls !== undefined && data.calls !== null) {
    calls = {};
    for (const [id, c] of Object.entries(expectObject(data.calls, 'calls'))) {
      calls[id] = toPhoneCall(c);
    }
  }
  const r = new HoldToggleResult({
    isThirdPartyOnHold: data.isThirdPartyOnHold === true,
    isCustomerOnHold: data.isCustomerOnHold === true,
    calls,
  });
  // 4.8.1 forwards isCallMerged with HOLD_TOGGLE; 3.6.2 ignores it.
  r.isCallMerged = data.isCallMerged === true;
  return r;
}

export function toParticipantResult(data) {
  expectObject(data, 'data');
  return new ParticipantResult({
    initialCallHasEnded: data.initialCallHasEnded === true,
    callInfo: toCallInfo(data.callInfo),
    phoneNumber: data.phoneNumber,
    callId: data.callId,
  });
}

export function toPhoneContactsResult(data) {
  expectObject(data, 'data');
  if (!Array.isArray(data.contacts)) {
    throw new Error('contacts: expected an array');
  }
  return new PhoneContactsResult({
    contacts: data.contacts.map(toContact),
    contactTypes: Array.isArray(data.contactTypes) ? data.contactTypes : [],
  });
}

export function toAgentStatusInfo(data) {
  expectObject(data, 'data');
  return new AgentStatusInfo(pick(data, ['statusId', 'statusApiName', 'statusName']));
}

export function toAgentVendorStatusInfo(data) {
  expectObject(data, 'data');
  return new AgentVendorStatusInfo(pick(data, ['statusId', 'statusType', 'statusName']));
}

// What a command sends to name a call: its ids and participant type, nothing personal (the
// daemon resolves the rest among the agent's own calls, PROTOCOL.md §4).
export function callRef(call) {
  if (!isObject(call)) {
    return {};
  }
  const ref = pick(call, ['callId', 'connectionId', 'callType']);
  if (isObject(call.callAttributes) && typeof call.callAttributes.participantType === 'string') {
    ref.callAttributes = { participantType: call.callAttributes.participantType };
  }
  return ref;
}

// A Contact as the daemon wants it: the fields the base library knows, nothing else.
export function contactRef(contact) {
  return isObject(contact) ? pick(contact, CONTACT_FIELDS) : {};
}
