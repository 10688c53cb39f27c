// The connector page (/connector/index.html): Salesforce loads it in an iframe and sends it
// SETUP_CONNECTOR. It wires the agent socket, the VendorConnector and the login frame together.

import { initializeConnector } from '@salesforce/scv-connector-base';

import { ScvbConnector } from './connector.js';
import { AgentSocket } from './socket.js';

const LOGIN_MESSAGE = 'scvb.login';

const loginFrame = document.getElementById('login');
const banner = document.getElementById('banner');

function log(level, text) {
  // The browser console only; the token never reaches this function.
  const line = `scvbridge connector: ${text}`;
  if (level === 'error') {
    console.error(line);
  } else if (level === 'info') {
    console.info(line);
  } else {
    console.debug(line);
  }
}

const ui = {
  // hint: {contactCenter, orgId, error?}. The login page is ours, on this origin, in a nested
  // frame. The org id picks the contact center when two orgs use the same API name.
  showLogin(hint) {
    const q = new URLSearchParams();
    if (hint.contactCenter) {
      q.set('contactCenter', hint.contactCenter);
    }
    if (hint.orgId) {
      q.set('orgId', hint.orgId);
    }
    banner.textContent = hint.error ? `Signed out: ${hint.error}` : '';
    banner.hidden = !hint.error;
    loginFrame.src = `login.html${q.toString() ? `?${q}` : ''}`;
    loginFrame.hidden = false;
  },
  hideLogin() {
    loginFrame.hidden = true;
    loginFrame.src = 'about:blank';
    banner.hidden = true;
  },
  log,
};

const socket = new AgentSocket({
  url: `wss://${location.host}/agent/v1/ws`,
  callbacks: { log },
});
const connector = new ScvbConnector({ socket, ui });

// The token comes from our own login page only: same origin, and from that very frame.
window.addEventListener('message', (ev) => {
  if (ev.origin !== location.origin || ev.source !== loginFrame.contentWindow) {
    return;
  }
  const d = ev.data;
  if (!d || d.type !== LOGIN_MESSAGE || typeof d.token !== 'string' || typeof d.expiresAt !== 'number') {
    return;
  }
  connector.loginWithToken(d.token, d.expiresAt);
});

initializeConnector(connector);
