// Rendering of the inbox and of one conversation's messages.
import { $, h, keyed, setBadge, clock, avatar } from './view.js';

const inboxCache = new Map();

/**
 * renderInbox draws the conversation list, newest activity first. app
 * supplies names (title, name), online state and the open conversation.
 */
export function renderInbox(app) {
  const items = app.inbox.sorted();
  const sig = (s) => [s.last_seq, s.unread_count, s.mention_count, s.muted, s.pinned, app.title(s), app.isOnline(s), app.openId === s.id].join('|');
  keyed($('inbox'), inboxCache, items, (s) => s.id, sig, (s) => inboxItem(app, s));
  $('inbox-empty').hidden = items.length > 0;
  setBadge($('unread-total'), app.inbox.total);
  document.title = (app.inbox.total ? '(' + app.inbox.total + ') ' : '') + 'Parley';
}

function inboxItem(app, s) {
  const title = app.title(s);
  const last = s.last_message;
  let preview = 'No messages yet';
  if (last) {
    const who = last.sender_id === app.me.id ? 'You: ' : s.kind === 'group' ? app.name(last.sender_id) + ': ' : '';
    preview = last.deleted_at ? who + 'message deleted' : who + last.body;
  }
  const online = app.isOnline(s);
  const face = s.kind === 'group' ? s.id : (app.participants.get(s.id) || []).find((u) => u !== app.me.id) || s.id;
  const badge = h('span', { class: 'badge' });
  setBadge(badge, s.unread_count);
  const mentions = s.mention_count ? h('span', { class: 'mention-badge', title: 'mentions you' }, '@') : null;
  const flags = [s.pinned ? 'pinned' : '', s.muted ? 'muted' : ''].filter(Boolean).join(' · ');
  const li = h('li', {
    class: 'conv' + (app.openId === s.id ? ' active' : '') + (s.unread_count ? ' unread' : ''),
    'data-conversation-id': s.id,
    'data-online': online ? 'true' : 'false',
    'data-pinned': s.pinned ? 'true' : 'false',
    'data-muted': s.muted ? 'true' : 'false',
  },
  h('button', { type: 'button', onclick: () => app.open(s.id) },
    h('span', { class: 'who' }, avatar(face, title, s.kind === 'group' ? 'group' : ''), h('span', { class: 'dot' + (online ? ' online' : ''), title: online ? 'online' : 'offline' })),
    h('span', { class: 'text' },
      h('span', { class: 'line' }, h('span', { class: 'title' }, title, flags ? h('span', { class: 'flags' }, flags) : null), h('time', { class: 'when' }, clock(s.last_activity_at))),
      h('span', { class: 'line' }, h('span', { class: 'preview' }, preview), mentions, badge))));
  return li;
}

/** resetRoom forgets the drawn messages (another conversation opens). */
export function resetRoom() {
  msgCache.clear();
  $('messages').replaceChildren();
}

const msgCache = new Map();

/**
 * renderRoom draws the open conversation: messages (keyed by local key, so
 * an optimistic send keeps its element when confirmed), read receipts under
 * own messages, who is viewing and who is typing.
 */
export function renderRoom(app) {
  const tl = app.tl;
  if (!tl) return;
  const scroller = $('scroller');
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  const seen = tl.seenBy();
  const list = tl.sorted();
  const seenText = (m) => (seen.get(m.lk) || []).map((u) => app.name(u)).join(', ');
  const sig = (m, i) => [m.rev, seenText(m), firstOfRun(list, i), app.editing === m.lk, quoteSig(tl, m)].join('|');
  const withIndex = list.map((m, i) => ({ m, i }));
  keyed($('messages'), msgCache, withIndex, (x) => x.m.lk, (x) => sig(x.m, x.i), (x) => messageItem(app, x.m, firstOfRun(list, x.i), seenText(x.m)));
  $('older').hidden = !tl.hasOlder;
  const ol = $('messages');
  ol.dataset.cursor = String(tl.cursor); // for tests and the curious
  ol.dataset.live = String(tl.live);
  renderPresence(app);
  if (atBottom || app.scrollToEnd) {
    scroller.scrollTop = scroller.scrollHeight;
    app.scrollToEnd = false;
  }
}

function firstOfRun(list, i) {
  return i === 0 || list[i - 1].sender_id !== list[i].sender_id;
}

function messageItem(app, m, first, seenText) {
  const mine = m.sender_id === app.me.id;
  const attrs = {
    class: 'msg' + (mine ? ' mine' : '') + (m.status ? ' pending ' + m.status : '') + (m.deleted_at ? ' deleted' : '') + (first ? ' first' : ''),
    'data-id': m.id || '',
    'data-temp-id': m.client_temp_id || '',
    'data-seq': m.seq || 0,
    'data-sender': m.sender_id,
    'data-source': m.source,
    'data-status': m.status || 'sent',
  };
  let body;
  if (app.editing === m.lk) {
    const input = h('input', { class: 'edit-input', value: m.body, 'aria-label': 'Edit message', maxlength: 16384 });
    body = h('form', { class: 'edit-form', onsubmit: (e) => { e.preventDefault(); app.saveEdit(m, input.value); } },
      input, h('button', { type: 'submit', class: 'primary small' }, 'Save'),
      h('button', { type: 'button', class: 'ghost small', onclick: () => app.cancelEdit() }, 'Cancel'));
    queueMicrotask(() => input.focus());
  } else {
    body = h('div', { class: 'body' }, m.deleted_at ? 'message deleted' : withMentions(app, m.body, m.mentions));
  }
  const quote = m.reply_to && !m.deleted_at ? quoteOf(app, m) : null;
  const files = !m.deleted_at && m.attachments && m.attachments.length
    ? h('div', { class: 'attachments' }, m.attachments.map((a) => (a.content_type.startsWith('image/')
      ? app.attachmentImage(a)
      : h('button', { type: 'button', class: 'link', 'data-attachment-id': a.id, onclick: () => app.downloadAttachment(a) }, '📎 ' + a.name))))
    : null;
  const meta = [h('time', { datetime: m.created_at }, clock(m.created_at))];
  if (m.edited_at && !m.deleted_at) meta.push(h('span', { class: 'edited' }, 'edited'));
  if (m.reply_count) meta.push(h('span', { class: 'replies-count' }, m.reply_count === 1 ? '1 reply' : m.reply_count + ' replies'));
  if (m.status === 'sending') meta.push(h('span', { class: 'state' }, 'sending…'));
  if (m.status === 'retrying') meta.push(h('span', { class: 'state' }, 'not sent yet · retrying'));
  if (m.status === 'failed') {
    meta.push(h('span', { class: 'state' }, 'failed: ' + (m.detail || 'not sent')),
      h('button', { type: 'button', class: 'link retry', onclick: () => app.retry(m.client_temp_id) }, 'Retry'),
      h('button', { type: 'button', class: 'link discard', onclick: () => app.discard(m.client_temp_id) }, 'Discard'));
  }
  const live = !m.status && !m.deleted_at && app.editing !== m.lk;
  const actions = live
    ? h('span', { class: 'actions' },
      h('button', { type: 'button', class: 'link reply', onclick: () => app.startReply(m) }, 'Reply'),
      h('span', { class: 'palette' }, PALETTE.map((e) => h('button', { type: 'button', class: 'react', 'data-emoji': e, title: 'React ' + e, onclick: () => app.toggleReaction(m, e) }, e))),
      mine ? h('button', { type: 'button', class: 'link edit', onclick: () => app.startEdit(m) }, 'Edit') : null,
      mine ? h('button', { type: 'button', class: 'link delete', onclick: (e) => app.deleteMessage(m, e.currentTarget) }, 'Delete') : null)
    : null;
  const reactions = !m.deleted_at && m.reactions && m.reactions.length
    ? h('div', { class: 'reactions' }, m.reactions.map((r) => h('button', {
      type: 'button', class: r.me ? 'mine' : '', 'data-emoji': r.emoji, 'data-count': r.count, title: r.me ? 'Take back' : 'React', onclick: () => app.toggleReaction(m, r.emoji),
    }, r.emoji + ' ' + r.count)))
    : null;
  return h('li', attrs,
    !mine && first ? h('div', { class: 'sender' }, app.name(m.sender_id)) : null,
    h('div', { class: 'bubble' }, quote, body, files),
    reactions,
    h('div', { class: 'meta' }, meta, actions),
    seenText ? h('div', { class: 'seen' }, 'Seen by ' + seenText) : null);
}

/** PALETTE are the reactions a message offers at a click. */
const PALETTE = ['👍', '❤️', '😂', '🎉'];

/**
 * withMentions splits a body into text and the mentions it holds
 * ("@user_id" of a mentioned participant), as nodes: never HTML.
 */
function withMentions(app, body, mentions) {
  if (!mentions || !mentions.length) return body;
  const ids = [...mentions].sort((a, b) => b.length - a.length);
  const out = [];
  let i = 0;
  let from = 0;
  while (i < body.length) {
    const at = body.indexOf('@', i);
    if (at < 0) break;
    const id = ids.find((u) => body.startsWith(u, at + 1));
    if (id) {
      out.push(body.slice(from, at), h('span', { class: 'mention' + (id === app.me.id ? ' me' : ''), 'data-user': id }, '@' + id));
      i = from = at + 1 + id.length;
    } else {
      i = at + 1;
    }
  }
  out.push(body.slice(from));
  return out;
}

/** quoteSig changes when what a reply shows of its target changes. */
function quoteSig(tl, m) {
  if (!m.reply_to) return '';
  const p = tl.byId(m.reply_to);
  return p ? p.rev : 'q';
}

/** quoteOf shows what a reply answers: the target as held, or the server's quote. */
function quoteOf(app, m) {
  const p = app.tl && app.tl.byId(m.reply_to);
  const q = p ? { sender_id: p.sender_id, body: p.deleted_at ? '' : p.body, deleted: !!p.deleted_at } : m.quote;
  if (!q) return h('div', { class: 'quote' }, 'a reply');
  return h('div', { class: 'quote', 'data-reply-to': m.reply_to },
    h('span', { class: 'who' }, app.name(q.sender_id)), q.deleted ? 'message deleted' : String(q.body || '').slice(0, 100));
}

/** renderSearch lists a search's hits with their matched words marked. */
export function renderSearch(app, hits) {
  const ul = $('search-results');
  ul.hidden = false;
  if (!hits.length) {
    ul.replaceChildren(h('li', { class: 'empty' }, 'No messages found.'));
    return;
  }
  ul.replaceChildren(...hits.map((hit) => {
    const s = app.inbox.items.get(hit.message.conversation_id);
    return h('li', { 'data-message-id': hit.message.id },
      h('button', { type: 'button', class: 'ghost', onclick: () => app.open(hit.message.conversation_id) },
        h('span', { class: 'title' }, (s ? app.title(s) : '') + ' · ' + app.name(hit.message.sender_id) + ': '),
        hit.snippet.map((p) => (p.match ? h('mark', {}, p.text) : p.text))));
  }));
}

/** renderSettings shows the open conversation's own settings. */
export function renderSettings(app) {
  const s = app.inbox.items.get(app.openId);
  $('pin').setAttribute('aria-pressed', String(!!(s && s.pinned)));
  $('pin').textContent = s && s.pinned ? 'Unpin' : 'Pin';
  $('mute').setAttribute('aria-pressed', String(!!(s && s.muted)));
  $('mute').textContent = s && s.muted ? 'Unmute' : 'Mute';
}

/** renderPresence shows who is viewing the room and who is typing. */
export function renderPresence(app) {
  const viewers = [...app.viewers].filter((u) => u !== app.me.id);
  $('viewers').replaceChildren(...viewers.map((u) => h('span', { class: 'viewer', 'data-user': u, title: app.name(u) + ' is viewing' }, avatar(u, app.name(u)), app.name(u))));
  const typers = [...app.typers.keys()].filter((u) => u !== app.me.id).map((u) => app.name(u));
  const t = $('typing');
  t.textContent = typers.length === 0 ? '' : typers.join(', ') + (typers.length === 1 ? ' is typing…' : ' are typing…');
  t.dataset.users = [...app.typers.keys()].join(',');
}
