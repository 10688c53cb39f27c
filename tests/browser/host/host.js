// The stand-in Salesforce page. It plays what Lightning does with a telephony connector:
// loads the connector page in an iframe, runs the SETUP_CONNECTOR handshake over a
// MessageChannel (the message type, connectorConfig and the transferred port the base library
// waits for), sends Salesforce's commands on that port and records every message that comes
// back. The test driver reads window.scvHost.
//   index.html?connector=<absolute URL of the connector page>&org=<org id>&user=<user id>

(function () {
  const q = new URLSearchParams(location.search);
  const connectorUrl = q.get('connector');
  const connectorOrigin = new URL(connectorUrl).origin;
  const frame = document.getElementById('connector');
  const box = document.getElementById('frame-box');
  const tbody = document.querySelector('#log tbody');
  const counts = document.getElementById('counts');
  document.getElementById('url').textContent = connectorUrl;

  const connectorConfig = {
    organizationId: q.get('org') || '00D000000000001AAA',
    userId: q.get('user') || '005000000000001AAA',
    userName: 'alice@acme.example',
    userFullName: 'Alice Agent',
    '/reqGeneralInfo/reqInternalName': q.get('cc') || 'AcmeCC',
    '/reqGeneralInfo/reqAdapterUrl': connectorUrl,
  };

  const host = {
    log: [], // {n, at, dir: 'in'|'out', type, data}
    setups: 0,
    port: null,
    send(type, data) {
      const msg = Object.assign({ type }, data || {});
      record('out', type, msg);
      host.port.postMessage(msg);
    },
    reload() {
      frame.src = connectorUrl + (connectorUrl.includes('?') ? '&' : '?') + 'r=' + Date.now();
    },
  };
  window.scvHost = host;

  let logCount = 0;
  function summary(dir, type, data) {
    if (type === 'TELEPHONY_EVENT_DISPATCHED') {
      const p = data.payload || {};
      return [p.telephonyEventType, p.telephonyEventPayload];
    }
    if (type === 'CONNECTOR_READY') {
      return [type, data.payload];
    }
    if (type === 'SF_VOICECALL') {
      return [type, data];
    }
    return [type, dir === 'out' ? data : data.payload];
  }

  function record(dir, type, data) {
    const entry = { n: host.log.length + 1, at: Date.now(), dir, type, data };
    host.log.push(entry);
    if (type === 'LOG') {
      logCount++; // the base library logs every step: counted, not listed
      counts.textContent = `(${logCount} LOG messages not listed)`;
      return;
    }
    const [name, detail] = summary(dir, type, data);
    const tr = document.createElement('tr');
    tr.className = dir;
    if (name === 'ERROR' || name === 'INFO') {
      tr.classList.add('error');
    }
    const cells = [String(entry.n), new Date(entry.at).toISOString().slice(11, 23), dir === 'in' ? '\u2190' : '\u2192',
      type === 'TELEPHONY_EVENT_DISPATCHED' ? name : type, detail === undefined ? '' : JSON.stringify(detail).slice(0, 220)];
    cells.forEach((text, i) => {
      const td = document.createElement('td');
      td.className = ['n', 'at', 'dir', 'msg', 'detail'][i];
      td.textContent = text;
      tr.appendChild(td);
    });
    tbody.appendChild(tr);
    if (type === 'TELEPHONY_EVENT_DISPATCHED' && name === 'SHOW_LOGIN') {
      box.classList.add('login');
    }
    if (type === 'CONNECTOR_READY') {
      box.classList.remove('login');
    }
    if (type === 'TELEPHONY_EVENT_DISPATCHED' && name === 'CALL_STARTED' && detail &&
        String(detail.callType).toLowerCase() === 'outbound') {
      makeVoiceCall(detail);
    }
  }

  // What Salesforce does with an outbound CALL_STARTED: it makes the VoiceCall itself (the
  // bridge never creates one for a call the agent placed), keyed by the connector's callId.
  function makeVoiceCall(call) {
    fetch('/sf/connectorCalls', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ vendorCallKey: call.callId, callType: 'Outbound', phoneNumber: call.phoneNumber || '' }),
    }).then(async (res) => {
      const body = await res.json().catch(() => ({}));
      record('in', 'SF_VOICECALL', { vendorCallKey: call.callId, status: res.status, voiceCallId: body.voiceCallId });
    }, () => record('in', 'SF_VOICECALL', { vendorCallKey: call.callId, status: 0 }));
  }

  // Every load of the connector page (the first, and a reload) gets a fresh channel.
  frame.addEventListener('load', () => {
    if (!frame.src) {
      return;
    }
    const ch = new MessageChannel();
    ch.port1.onmessage = (ev) => record('in', ev.data && ev.data.type, ev.data || {});
    host.port = ch.port1;
    host.setups++;
    record('out', 'SETUP_CONNECTOR', { connectorConfig });
    frame.contentWindow.postMessage({ type: 'SETUP_CONNECTOR', connectorConfig }, connectorOrigin, [ch.port2]);
  });
  frame.src = connectorUrl;
})();
