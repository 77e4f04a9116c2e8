// Sign-in: by name through the dev route (parley serve --dev), or with a
// token the host application minted. The session lives in sessionStorage,
// so every tab can be a different user and a reload keeps it.
import { createApi } from './api.js';
import { $, show } from './view.js';

const KEY = 'parley.session';

/** loadSession returns the saved {user, name, token}, or null. */
export function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    return s && s.token && s.user ? s : null;
  } catch {
    return null;
  }
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem('parley.open');
}

function save(s) {
  sessionStorage.setItem(KEY, JSON.stringify(s));
  return s;
}

/** userId turns a typed name into a valid user id: "Ada L" -> "ada-l". */
export function userId(name) {
  return name.trim().toLowerCase().replace(/\s+/g, '-').replace(/[^a-z0-9_\-=@,.;]/g, '').slice(0, 64);
}

/** claims reads a JWT's payload (for display only; the server verifies it). */
function claims(token) {
  const part = token.split('.')[1] || '';
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
  return JSON.parse(json);
}

/** signIn shows the sign-in screen and resolves with a session. */
export async function signIn() {
  const api = createApi(() => null);
  $('signin').hidden = false;
  const why = sessionStorage.getItem('parley.signout');
  sessionStorage.removeItem('parley.signout');
  const err = $('signin-error');
  if (why) show(err, true, why);
  const dev = await api.devProbe();
  $('dev-form').hidden = !dev;
  $('token-box').open = !dev;
  if (dev) {
    $('token-hint').textContent = 'Or paste a token minted by the host application (parley token --user alice).';
    $('dev-user').focus();
  }
  return new Promise((resolve) => {
    $('dev-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const name = $('dev-user').value.trim();
      const id = userId(name);
      if (!id) return show(err, true, 'Use letters, digits or - _ . @ in the name.');
      try {
        const { data } = await api.devToken(id, name);
        resolve(save({ user: data.user_id, name: data.name, token: data.token }));
      } catch (x) {
        show(err, true, x.message);
      }
    });
    $('token-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const token = $('token-input').value.trim();
      try {
        const c = claims(token);
        if (!c.sub) throw new Error('no sub');
        resolve(save({ user: c.sub, name: c.name || c.sub, token }));
      } catch {
        show(err, true, 'That does not look like a user token (a JWT with a sub claim).');
      }
    });
  });
}
