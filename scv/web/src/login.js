// The login page (/connector/login.html), shown by the connector in a frame of its own.
// It posts the credentials to the bridge on this same origin and hands the token to the
// connector frame with postMessage: no cookie, no storage (PROTOCOL.md §2).

const LOGIN_MESSAGE = 'scvb.login';

const form = document.getElementById('form');
const statusLine = document.getElementById('status');
const submit = document.getElementById('submit');
const fields = {
  contactCenter: document.getElementById('contactCenter'),
  username: document.getElementById('username'),
  password: document.getElementById('password'),
};

const params = new URLSearchParams(location.search);
const hint = params.get('contactCenter');
const orgId = params.get('orgId') || '';
if (hint) {
  fields.contactCenter.value = hint;
}
(hint ? fields.username : fields.contactCenter).focus();

function show(text, kind) {
  statusLine.textContent = text;
  statusLine.className = kind || '';
}

// The bridge's answer as a sentence for the agent.
async function explain(res) {
  let body = {};
  try {
    body = await res.json();
  } catch (e) {
    body = {};
  }
  if (res.status === 401) {
    return 'Wrong user name or password.';
  }
  if (res.status === 429) {
    const s = Number(body.retryAfterS);
    return Number.isFinite(s) && s > 0
      ? `Too many failed attempts. Try again in ${Math.ceil(s)} seconds.`
      : 'Too many failed attempts. Try again later.';
  }
  if (res.status === 403) {
    return 'This page is not allowed to sign in to the bridge (origin refused).';
  }
  if (res.status === 400) {
    return 'The bridge refused the request as malformed.';
  }
  return `The bridge answered with HTTP ${res.status}.`;
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const creds = {
    contactCenter: fields.contactCenter.value.trim(),
    username: fields.username.value.trim(),
    password: fields.password.value,
  };
  if (orgId) {
    creds.orgId = orgId;
  }
  if (!creds.contactCenter || !creds.username || !creds.password) {
    show('Fill in the contact center, the user name and the password.', 'error');
    return;
  }
  submit.disabled = true;
  show('Signing in…');
  try {
    const res = await fetch('/agent/v1/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(creds),
      credentials: 'omit',
      cache: 'no-store',
    });
    if (!res.ok) {
      show(await explain(res), 'error');
      fields.password.value = '';
      fields.password.focus();
      return;
    }
    const data = await res.json();
    if (typeof data.token !== 'string' || typeof data.expiresAt !== 'number') {
      show('The bridge sent an answer this page does not understand.', 'error');
      return;
    }
    fields.password.value = '';
    const name = data.agent && data.agent.name ? data.agent.name : creds.username;
    show(`Signed in as ${name}.`, 'ok');
    if (window.parent === window) {
      show('Signed in, but this page must be opened by the connector inside Salesforce.', 'error');
      return;
    }
    window.parent.postMessage({ type: LOGIN_MESSAGE, token: data.token, expiresAt: data.expiresAt }, location.origin);
  } catch (e) {
    show('Cannot reach the bridge. Check the network and try again.', 'error');
  } finally {
    submit.disabled = false;
  }
});

// The form is live (tests wait for this before they type).
document.body.dataset.ready = '1';
