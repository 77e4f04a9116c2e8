// DOM rendering. Everything user-supplied goes in as text, never as HTML.
// Lists are keyed: an element is made once per message or conversation and
// updated in place, so a confirmed send keeps its element.

export const $ = (id) => document.getElementById(id);

/** h makes an element: h('div', {class: 'x', 'data-id': 1}, child, 'text'). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** show sets an element's visibility and, optionally, its text. */
export function show(el, visible, text) {
  el.hidden = !visible;
  if (text !== undefined) el.textContent = text;
}

/** clock formats a server time as a short local time. */
export function clock(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const today = new Date().toDateString() === d.toDateString();
  return today
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

/**
 * keyed brings list's children to items, in order, reusing each item's
 * element by key; make(item) builds an element, and is called again when
 * sig(item) changed since the element was built.
 */
export function keyed(list, cache, items, key, sig, make) {
  const seen = new Set();
  items.forEach((item, i) => {
    const k = key(item);
    const s = sig(item);
    seen.add(k);
    let entry = cache.get(k);
    if (!entry || entry.sig !== s) {
      const el = make(item);
      if (entry) entry.el.replaceWith(el);
      entry = { el, sig: s };
      cache.set(k, entry);
    }
    if (list.children[i] !== entry.el) list.insertBefore(entry.el, list.children[i] || null);
  });
  for (const [k, entry] of cache) {
    if (!seen.has(k)) {
      entry.el.remove();
      cache.delete(k);
    }
  }
}

/** badge renders an unread count (hidden at zero). */
export function setBadge(el, n) {
  el.dataset.count = String(n);
  el.textContent = n > 99 ? '99+' : String(n);
  el.hidden = n === 0;
}

const CONN_TEXT = {
  initialized: 'starting',
  connecting: 'connecting…',
  connected: 'live',
  unavailable: 'offline · retrying',
  failed: 'realtime unavailable',
  disconnected: 'disconnected',
  polling: 'polling',
};

/** setConn shows the connection state (pusher-js's, or "polling"). */
export function setConn(state) {
  const el = $('conn');
  el.dataset.state = state;
  el.textContent = CONN_TEXT[state] || state;
}

/** initials for an avatar. */
export function initials(name) {
  const parts = String(name).trim().split(/[\s._-]+/).filter(Boolean);
  return ((parts[0] || '?')[0] + (parts[1] ? parts[1][0] : '')).toUpperCase();
}

/** hue gives a user a stable avatar colour class (one of eight). */
export function hue(id) {
  let n = 0;
  for (const ch of String(id)) n = (n * 31 + ch.charCodeAt(0)) >>> 0;
  return 'hue' + (n % 8);
}

/** avatar is a coloured circle with initials. */
export function avatar(id, name, extra) {
  return h('span', { class: 'avatar ' + hue(id) + (extra ? ' ' + extra : ''), title: name, 'aria-hidden': 'true' }, initials(name));
}
