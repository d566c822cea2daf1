// main.js - the dashboard's start: who is signed in, and which view they see.
//
// A credential is an analyst (or admin) key or a customer token. It is
// pasted into the sign-in form, or arrives in the address as /#token=... (the
// link `shopflow demo` prints): the fragment never reaches the server, and it
// is removed from the address bar at once. It is kept in sessionStorage, so
// it lasts as long as the tab and is sent only in Authorization headers.
import './style.css';
import { ApiError, get } from './api.js';
import { analystView } from './analyst.js';
import { customerView } from './customer.js';
import { fill, h } from './dom.js';
import { initDialog } from './history.js';

const STORE = 'shopflow.credential';
const main = document.getElementById('main');
let current = null; // the view shown: {destroy()}

// A customer token is a JWT: three base64url parts; its payload's sub is the
// customer. Read here only to know which customer to ask for: the server
// checks the signature and the expiry on every request.
function tokenCustomer(credential) {
  const parts = credential.split('.');
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replace(/-/g, '+').replace(/_/g, '/'));
    const sub = JSON.parse(json).sub;
    return /^\d{1,9}$/.test(String(sub)) ? String(sub) : null;
  } catch (e) {
    return null;
  }
}

// Check a credential with the server: {kind, customer} or an Error whose
// message says what to do.
async function identify(credential) {
  const customer = tokenCustomer(credential);
  if (customer) {
    try {
      await get(`/v1/customers/${customer}/invoices?limit=1`, credential);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw signInError(err, 'token');
    }
    return { kind: 'customer', customer };
  }
  if (credential.split('.').length === 3)
    throw new Error('This looks like a token, but not a customer token: make one with `shopflow token --customer ID`.');
  try {
    await get('/v1/bi/sales?granularity=year', credential);
  } catch (err) {
    throw signInError(err, 'key');
  }
  return { kind: 'analyst' };
}

function signInError(err, what) {
  if (!(err instanceof ApiError)) return err;
  if (err.status === 401)
    return new Error(what === 'token'
      ? `The server refused this token: ${err.message}. Ask for a new one (shopflow token --customer ID).`
      : `The server does not know this key: ${err.message}. Paste an analyst key (shopflow keys create --role analyst) or a customer token.`);
  if (err.status === 403)
    return new Error('This key may not read the dashboard (it is an ingest key): use an analyst or admin key, or a customer token.');
  return new Error(err.status === 0 ? err.message : `The server could not check it: ${err.message} (HTTP ${err.status}).`);
}

function show(view) {
  if (current) current.destroy();
  current = view;
  main.focus({ preventScroll: true });
}

function signInView(message) {
  document.getElementById('who').hidden = true;
  main.className = 'signin-main';
  const input = h('input', { id: 'credential', type: 'password', autocomplete: 'off', spellcheck: 'false',
    required: true, 'aria-describedby': 'signin-help signin-error' });
  const error = h('p', { id: 'signin-error', class: 'signin-error', role: 'alert' }, message || '');
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'signin', onsubmit: async (e) => {
    e.preventDefault();
    const credential = input.value.trim();
    if (!credential) return;
    button.disabled = true;
    fill(error, 'Checking…');
    try {
      await signIn(credential);
    } catch (err) {
      fill(error, err.message);
      button.disabled = false;
      input.focus();
    }
  } },
  h('h2', {}, 'Sign in'),
  h('p', { id: 'signin-help' }, 'Paste an analyst key to see the shop\'s sales, or a customer token to see that customer\'s purchases. ',
    'It stays in this browser tab only, and is sent to this server alone.'),
  h('label', { for: 'credential' }, 'Key or token'), input, button, error,
  h('details', { class: 'hint' }, h('summary', {}, 'Where do I get one?'),
    h('p', {}, h('code', {}, 'shopflow demo'), ' prints a link that signs in directly.'),
    h('p', {}, h('code', {}, 'shopflow keys create --data DIR --role analyst'), ' makes an analyst key; ',
      h('code', {}, 'shopflow token --data DIR --customer ID'), ' a customer token.')));
  show({ destroy() {} });
  fill(main, form);
  input.focus();
}

async function signIn(credential) {
  const who = await identify(credential);
  sessionStorage.setItem(STORE, credential);
  const session = { credential, ...who };
  const ctx = { session, get: (path) => get(path, credential) };
  document.getElementById('who').hidden = false;
  fill(document.getElementById('who-name'),
    who.kind === 'customer' ? `Customer ${who.customer}` : 'Analyst');
  main.className = who.kind === 'customer' ? 'customer-main' : 'analyst-main';
  main.replaceChildren();
  show(who.kind === 'customer' ? customerView(main, ctx) : analystView(main, ctx));
}

function signOut(message) {
  sessionStorage.removeItem(STORE);
  const d = document.getElementById('dialog');
  if (d.open) d.close();
  signInView(message);
}

// A token in the fragment signs in and leaves the address bar at once.
function takeFragmentToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  if (token === null) return null;
  history.replaceState(null, '', location.pathname + location.search);
  return token.trim();
}

async function start() {
  initDialog();
  document.getElementById('sign-out').addEventListener('click', () => signOut());
  const credential = takeFragmentToken() || sessionStorage.getItem(STORE);
  if (!credential) {
    signInView();
    return;
  }
  try {
    await signIn(credential);
  } catch (err) {
    sessionStorage.removeItem(STORE);
    signInView(err.message);
  }
}

start();
