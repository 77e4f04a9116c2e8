// Parley's reference chat client. Read this file top to bottom to see how an
// application uses the engine:
//
//   1. GET /api/config says whether realtime is on and how to configure
//      Laravel Echo (broadcaster "pusher").
//   2. Inbox: GET /api/conversations, then live conversation.updated on
//      private-user.<me>; who is online from presence-messaging.
//   3. A conversation: GET /api/messages/<id> once, then live events on
//      private-conversation.<id>, viewers on presence-conversation.<id>,
//      typing as whispers.
//   4. Recovery: whenever the conversation channel is (re)subscribed, and
//      after the first load, GET .../delta?after_seq=<cursor> and merge by
//      message id, seq and client_temp_id (Timeline in state.js says which
//      sources move the cursor). With realtime off, poll delta.
//   5. Sending: show at once with a client_temp_id, POST, reconcile on the
//      HTTP answer or the socket event (whichever is first); on failure,
//      retry with the same client_temp_id (the server answers 200 and the
//      same message for a send it already has).
//   6. Richer messages: a reply names reply_to; reactions are PUT/DELETE
//      and arrive as message.reacted (each one a change of one); "@id"
//      completes from the participants; files upload first (POST
//      /api/attachments) and the send names them; pin, mute and archive
//      are the caller's settings (PATCH .../settings); search is GET
//      /api/search, its snippets already split into matched parts.
import { createApi } from './api.js';
import { Inbox, Timeline, newTempId } from './state.js';
import { connectRealtime } from './realtime.js';
import { $, show, setConn } from './view.js';
import { renderInbox, renderRoom, renderPresence, resetRoom, renderSearch, renderSettings } from './render.js';
import { signIn, loadSession, clearSession } from './session.js';

/** POLL_MS is the delta polling interval when realtime is off. */
const POLL_MS = 1500;
/** TYPING_MS is how long a typing indicator lasts without a refresh. */
const TYPING_MS = 6000;

class App {
  constructor(session) {
    this.me = { id: session.user, name: session.name };
    this.token = session.token;
    this.api = createApi(() => this.token, (why) => this.signOut(why));
    this.inbox = new Inbox();
    this.timelines = new Map();
    this.participants = new Map(); // conversation id -> [user ids]
    this.names = new Map([[this.me.id, this.me.name]]);
    this.online = new Set();
    this.viewers = new Set();
    this.typers = new Map(); // user id -> expiry (ms)
    this.tl = null;
    this.openId = null;
    this.roomRt = null;
    this.typingSent = 0;
    this.editing = null;
    this.readBusy = false;
    this.replyTo = null; // the message the composer answers
    this.attached = []; // uploads the next send carries: {id, name}
    this.blobs = new Map(); // attachment id -> object URL of its bytes
  }

  async run() {
    $('signin').hidden = true;
    $('app').hidden = false;
    $('me').textContent = this.me.name === this.me.id ? this.me.id : this.me.name + ' (' + this.me.id + ')';
    this.bindUI();
    const { data: cfg } = await this.api.config();
    this.cfg = cfg;
    await this.loadInbox();
    if (cfg.realtime) this.connect();
    else this.poll();
    const last = sessionStorage.getItem('parley.open');
    if (last && this.inbox.items.has(last)) this.open(last);
  }

  // ---- names and presence ------------------------------------------------

  name(id) {
    return this.names.get(id) || id;
  }

  learn(member) {
    if (member && member.id && member.name) this.names.set(member.id, member.name);
  }

  title(s) {
    if (s.title) return s.title;
    const others = (this.participants.get(s.id) || []).filter((u) => u !== this.me.id);
    return others.length ? others.map((u) => this.name(u)).join(', ') : s.kind === 'direct' ? '…' : 'Just you';
  }

  isOnline(s) {
    return (this.participants.get(s.id) || []).some((u) => u !== this.me.id && this.online.has(u));
  }

  /**
   * forgetPresence drops who is online, viewing and typing while the socket
   * is down: that knowledge is stale, and presence's "here" restores it on
   * resubscription.
   */
  forgetPresence() {
    if (!this.online.size && !this.viewers.size && !this.typers.size) return;
    this.online.clear();
    this.viewers.clear();
    this.typers.clear();
    renderInbox(this);
    if (this.tl) renderPresence(this);
  }

  // ---- inbox --------------------------------------------------------------

  /** loadInbox reads the conversation list: at start and after a reconnect. */
  async loadInbox() {
    const { data } = await this.api.conversations();
    let stamp = 0;
    const listed = new Set();
    for (const s of data.conversations) {
      this.inbox.upsert(s);
      listed.add(s.id);
      stamp = Math.max(stamp, s.last_seq);
    }
    if (!data.next_cursor) for (const id of [...this.inbox.items.keys()]) if (!listed.has(id)) this.inbox.remove(id);
    this.inbox.setTotal(data.summary.unread_total, stamp);
    renderInbox(this);
    await this.loadParticipants(data.conversations.map((s) => s.id));
  }

  /** loadParticipants fetches who is in each conversation (for titles and dots). */
  async loadParticipants(ids) {
    const todo = ids.filter((id) => !this.participants.has(id));
    const worker = async () => {
      while (todo.length) {
        const id = todo.shift();
        try {
          const { data } = await this.api.conversation(id);
          this.participants.set(id, data.participants.map((p) => p.user_id));
        } catch {
          // left or unreachable: keep the id as its title
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    renderInbox(this);
  }

  onConversationUpdated(p) {
    const s = p.conversation;
    const known = this.participants.has(s.id);
    this.inbox.upsert(s);
    this.inbox.setTotal(p.summary.unread_total, p.seq);
    renderInbox(this);
    if (!known) this.loadParticipants([s.id]);
    else if (s.participant_count !== this.participants.get(s.id).length) {
      this.participants.delete(s.id);
      this.loadParticipants([s.id]);
    }
  }

  onConversationRemoved(p) {
    this.inbox.remove(p.conversation_id);
    this.inbox.setTotal(p.summary.unread_total, p.seq);
    if (this.openId === p.conversation_id) this.close();
    renderInbox(this);
  }

  async createConversation(ids, title) {
    const { data } = await this.api.createConversation(ids, title);
    this.participants.set(data.id, data.participants.map((p) => p.user_id));
    const { participants, ...summary } = data;
    this.inbox.upsert(summary);
    renderInbox(this);
    this.open(data.id);
  }

  // ---- realtime -------------------------------------------------------------

  connect() {
    this.rt = connectRealtime(this.cfg, this.token, this.me.id, {
      onState: (s) => {
        setConn(s);
        if (s !== 'connected') {
          if (this.tl) this.tl.onUnsubscribed();
          this.forgetPresence();
        }
      },
      onReconnect: () => {
        // private-user events sent while the socket was down are gone:
        // the list is the recovery; rooms catch up on resubscription.
        this.loadInbox().catch(() => {});
        this.retryAll();
      },
      onOnline: (ms) => {
        ms.forEach((m) => this.learn(m));
        this.online = new Set(ms.map((m) => m.id));
        renderInbox(this);
      },
      onJoin: (m) => {
        this.learn(m);
        this.online.add(m.id);
        renderInbox(this);
      },
      onLeave: (m) => {
        this.online.delete(m.id);
        renderInbox(this);
      },
      onConversationUpdated: (p) => this.onConversationUpdated(p),
      onConversationRemoved: (p) => this.onConversationRemoved(p),
    });
  }

  /** poll is the realtime-off mode: delta for the open room, the list for the inbox. */
  poll() {
    setConn('polling');
    const tick = async () => {
      try {
        if (this.tl) await this.catchUp(this.tl);
        await this.loadInbox();
      } catch {
        // the next tick tries again
      }
      this.pollTimer = setTimeout(tick, POLL_MS);
    };
    this.pollTimer = setTimeout(tick, POLL_MS);
  }

  // ---- a conversation -------------------------------------------------------

  async open(id) {
    if (this.openId === id) return;
    this.close();
    this.openId = id;
    sessionStorage.setItem('parley.open', id);
    let tl = this.timelines.get(id);
    if (!tl) {
      tl = new Timeline(id, this.me.id);
      this.timelines.set(id, tl);
    }
    this.tl = tl;
    this.scrollToEnd = true;
    $('welcome').hidden = true;
    $('conversation').hidden = false;
    resetRoom();
    this.renderHead();
    renderInbox(this);
    renderRoom(this);
    if (this.rt) this.subscribeRoom(tl);
    try {
      if (!tl.loaded) await this.load(tl);
      await this.catchUp(tl);
    } catch (e) {
      this.flash(e);
    }
    $('composer-input').focus();
  }

  close() {
    if (this.tl) this.tl.onUnsubscribed();
    if (this.roomRt) this.roomRt.leave();
    this.roomRt = null;
    this.stopTyping();
    this.tl = null;
    this.openId = null;
    this.editing = null;
    this.viewers = new Set();
    this.typers.clear();
    $('welcome').hidden = false;
    $('conversation').hidden = true;
  }

  subscribeRoom(tl) {
    this.roomRt = this.rt.room(tl.id, {
      onEvent: (ev) => this.onRoomEvent(tl, ev, 'socket'),
      onTyping: (e) => this.onTyping(tl, e),
      onSubscribed: () => {
        tl.onSubscribed();
        this.catchUp(tl).catch(() => {});
      },
      onError: (e) => this.flash(new Error('subscription refused (' + (e && e.status) + ')')),
      onViewers: (ms) => {
        ms.forEach((m) => this.learn(m));
        this.viewers = new Set(ms.map((m) => m.id));
        renderPresence(this);
      },
      onViewerJoin: (m) => {
        this.learn(m);
        this.viewers.add(m.id);
        renderPresence(this);
      },
      onViewerLeave: (m) => {
        this.viewers.delete(m.id);
        renderPresence(this);
      },
    });
  }

  /**
   * load reads the room once: the detail (participants and read markers)
   * first, then the newest history page. Everything up to the highest of
   * the detail's last_seq and the page's message seqs is then reflected
   * (the page is read after the detail), so that is the delta cursor.
   */
  async load(tl) {
    const { data: detail } = await this.api.conversation(tl.id);
    this.participants.set(tl.id, detail.participants.map((p) => p.user_id));
    for (const p of detail.participants) tl.setMarker(p.user_id, p.last_read_seq);
    const { data: page } = await this.api.history(tl.id);
    let top = 0;
    for (const m of page.messages) {
      tl.applyMessage(m, 'history');
      top = Math.max(top, m.seq);
    }
    tl.cursor = Math.max(tl.cursor, detail.last_seq, top);
    tl.hasOlder = page.has_more;
    tl.loaded = true;
    this.renderHead();
    this.changed(tl);
  }

  async loadOlder() {
    const tl = this.tl;
    const oldest = tl && tl.oldest();
    if (!oldest) return;
    const { data } = await this.api.history(tl.id, oldest.id);
    for (const m of data.messages) tl.applyMessage(m, 'history');
    tl.hasOlder = data.has_more;
    if (tl === this.tl) renderRoom(this);
  }

  /**
   * catchUp asks delta for everything after the cursor and merges it; one
   * run at a time per room, re-run when asked again meanwhile.
   */
  async catchUp(tl) {
    if (!tl.loaded) return;
    if (tl.catching) {
      tl.again = true;
      return tl.catching;
    }
    tl.catching = (async () => {
      try {
        do {
          tl.again = false;
          const epoch = tl.subscribed ? tl.epoch : -1;
          let d;
          do {
            d = (await this.api.delta(tl.id, tl.cursor)).data;
            let changed = false;
            for (const ev of d.events) changed = this.applyRoomEvent(tl, ev, 'delta') || changed;
            tl.cursor = Math.max(tl.cursor, d.last_seq); // delta is gap-free from the cursor
            if (this.inbox.upsert(d.conversation)) changed = true;
            this.inbox.setTotal(d.summary.unread_total, Math.max(d.last_seq, d.conversation.last_seq));
            if (changed) this.changed(tl);
          } while (d.has_more);
          tl.caughtUp(d.last_seq, epoch);
        } while (tl.again);
      } finally {
        tl.catching = null;
      }
      if (tl === this.tl) renderRoom(this);
    })();
    return tl.catching;
  }

  onRoomEvent(tl, ev, source) {
    if (this.applyRoomEvent(tl, ev, source)) this.changed(tl);
  }

  applyRoomEvent(tl, ev, source) {
    if (ev.type === 'message.sent' && this.typers.delete(ev.actor_id) && tl === this.tl) renderPresence(this);
    if (ev.type === 'participant.added' || ev.type === 'participant.removed') {
      this.participants.delete(tl.id);
      this.loadParticipants([tl.id]).then(() => this.renderHead());
    }
    return tl.applyEvent(ev, source);
  }

  /** changed redraws after the room's model changed and marks it read. */
  changed(tl) {
    if (tl !== this.tl) return;
    renderRoom(this);
    renderInbox(this);
    this.markRead();
  }

  renderHead() {
    const s = this.inbox.items.get(this.openId);
    const members = this.participants.get(this.openId) || [];
    $('room-title').textContent = s ? this.title(s) : '';
    $('room-members').textContent = members.map((u) => (u === this.me.id ? 'you' : this.name(u))).join(', ');
    renderSettings(this);
  }

  /**
   * markRead moves the read marker to the newest message from someone else
   * while the room is open and the page visible. The answer carries the
   * conversation's and the user's unread counts.
   */
  async markRead() {
    const tl = this.tl;
    if (!tl || !tl.loaded || document.visibilityState !== 'visible' || this.readBusy) return;
    const newest = tl.newestFromOthers();
    if (!newest || newest.seq <= (tl.markers.get(this.me.id) || 0)) return;
    this.readBusy = true;
    try {
      const { data } = await this.api.read(tl.id, newest.id);
      tl.setMarker(this.me.id, newest.seq);
      this.inbox.upsert(data.conversation);
      this.inbox.setTotal(data.summary.unread_total, data.conversation.last_seq);
      renderInbox(this);
    } catch {
      // the next change tries again
    } finally {
      this.readBusy = false;
    }
    if (tl === this.tl) this.markRead();
  }

  // ---- typing ---------------------------------------------------------------

  onTyping(tl, e) {
    if (tl !== this.tl || !e || e.user_id === this.me.id) return;
    if (e.typing === false) this.typers.delete(e.user_id);
    else this.typers.set(e.user_id, Date.now() + TYPING_MS);
    renderPresence(this);
    clearTimeout(this.typingTimer);
    this.expireTypers();
  }

  expireTypers() {
    const now = Date.now();
    let next = Infinity;
    for (const [u, until] of this.typers) {
      if (until <= now) this.typers.delete(u);
      else next = Math.min(next, until);
    }
    renderPresence(this);
    if (next !== Infinity) this.typingTimer = setTimeout(() => this.expireTypers(), next - now + 10);
  }

  /** composerInput whispers typing: true at most every 2.5 s, false when emptied. */
  composerInput(text) {
    if (!this.roomRt) return;
    if (text.trim()) {
      if (Date.now() - this.typingSent > 2500) {
        this.roomRt.whisper({ typing: true });
        this.typingSent = Date.now();
      }
    } else {
      this.stopTyping();
    }
  }

  stopTyping() {
    if (this.roomRt && this.typingSent) this.roomRt.whisper({ typing: false });
    this.typingSent = 0;
  }

  // ---- sending, editing, deleting ------------------------------------------

  send(body) {
    const tl = this.tl;
    body = body.trim();
    if (!tl || !body) return;
    this.stopTyping();
    const tempId = newTempId();
    tl.addPending(body, tempId);
    const extra = {};
    if (this.replyTo) extra.reply_to = this.replyTo.id;
    if (this.attached.length) extra.attachments = this.attached.map((a) => a.id);
    tl.pending(tempId).extra = extra;
    if (extra.reply_to) tl.pending(tempId).reply_to = extra.reply_to;
    this.cancelReply();
    this.attached = [];
    this.renderAttached();
    this.scrollToEnd = true;
    renderRoom(this);
    this.attempt(tl, tempId, body, 0);
  }

  // ---- replies, reactions, mentions, attachments, settings, search ----------

  startReply(m) {
    this.replyTo = m;
    $('replying-text').textContent = 'Replying to ' + this.name(m.sender_id) + ': ' + String(m.body).slice(0, 80);
    $('replying').hidden = false;
    $('composer-input').focus();
  }

  cancelReply() {
    this.replyTo = null;
    $('replying').hidden = true;
  }

  /** toggleReaction puts the reaction, or takes it back when it is the user's. */
  async toggleReaction(m, emoji) {
    const tl = this.tl;
    const mine = (m.reactions || []).some((r) => r.emoji === emoji && r.me);
    try {
      const { data } = await this.api.react(tl.id, m.id, emoji, !mine);
      if (tl.applyMessage(data, 'reaction') !== 'duplicate') this.changed(tl);
    } catch (e) {
      this.flash(e);
    }
  }

  /**
   * suggestMentions offers the participants whose id starts with the "@word"
   * before the caret; picking one completes it.
   */
  suggestMentions(input) {
    const box = $('mention-suggest');
    const before = input.value.slice(0, input.selectionStart);
    const hit = /(^|[^A-Za-z0-9_\-=@,.;])@([A-Za-z0-9_\-=.]*)$/.exec(before);
    const members = (this.participants.get(this.openId) || []).filter((u) => u !== this.me.id);
    const found = hit ? members.filter((u) => u.toLowerCase().startsWith(hit[2].toLowerCase())).slice(0, 6) : [];
    box.replaceChildren(...found.map((u) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'ghost small';
      b.dataset.user = u;
      b.textContent = '@' + u;
      b.addEventListener('mousedown', (e) => e.preventDefault());
      b.addEventListener('click', () => {
        const start = before.length - hit[2].length - 1;
        input.value = input.value.slice(0, start) + '@' + u + ' ' + input.value.slice(input.selectionStart);
        const caret = start + u.length + 2;
        input.setSelectionRange(caret, caret);
        box.hidden = true;
        input.focus();
      });
      return b;
    }));
    box.hidden = found.length === 0;
  }

  /** blobURL fetches an attachment once (the token in a header) and keeps its object URL. */
  blobURL(id) {
    if (!this.blobs.has(id)) this.blobs.set(id, this.api.attachment(id).then((b) => URL.createObjectURL(b)));
    return this.blobs.get(id);
  }

  /** attachmentImage is an <img> of an attachment, filled once its bytes are here. */
  attachmentImage(a) {
    const img = document.createElement('img');
    img.alt = a.name;
    img.dataset.attachmentId = a.id;
    this.blobURL(a.id).then((url) => { img.src = url; }, () => { img.alt = a.name + ' (unavailable)'; });
    return img;
  }

  async downloadAttachment(a) {
    try {
      const link = document.createElement('a');
      link.href = await this.blobURL(a.id);
      link.download = a.name;
      link.click();
    } catch (e) {
      this.flash(e);
    }
  }

  async attachFiles(files) {
    for (const f of files) {
      try {
        const { data } = await this.api.upload(f);
        this.attached.push({ id: data.id, name: data.name });
      } catch (e) {
        this.flash(e);
      }
    }
    this.renderAttached();
  }

  renderAttached() {
    const box = $('attached');
    box.replaceChildren(...this.attached.map((a) => {
      const s = document.createElement('span');
      s.className = 'chip';
      s.dataset.attachmentId = a.id;
      s.textContent = '📎 ' + a.name;
      return s;
    }));
    box.hidden = this.attached.length === 0;
  }

  /** setting changes one of the caller's own settings of the open conversation. */
  async setting(patch) {
    const id = this.openId;
    if (!id) return;
    try {
      const { data } = await this.api.settings(id, patch);
      this.inbox.upsert(data);
      renderInbox(this);
      renderSettings(this);
      if (data.archived) this.close();
    } catch (e) {
      this.flash(e);
    }
  }

  async search(q) {
    if (!q.trim()) {
      $('search-results').hidden = true;
      return;
    }
    try {
      const { data } = await this.api.search(q);
      renderSearch(this, data.hits);
    } catch (e) {
      renderSearch(this, []);
      this.flash(e);
    }
  }

  /**
   * attempt POSTs one send. The answer (201 new, 200 already there) and the
   * socket's message.sent both reconcile through Timeline.applyMessage, so
   * whichever comes second changes nothing. A retryable failure tries again
   * with the same client_temp_id, unless the socket confirmed it meanwhile.
   */
  async attempt(tl, tempId, body, n) {
    try {
      const p = tl.pending(tempId);
      const { data } = await this.api.send(tl.id, body, tempId, p && p.extra);
      if (tl.applyMessage(data, 'http') !== 'duplicate') this.changed(tl);
    } catch (e) {
      if (!tl.pending(tempId)) return;
      if (!e.retryable) {
        tl.setStatus(tempId, 'failed', e.message);
        this.changed(tl);
        return;
      }
      tl.setStatus(tempId, 'retrying', e.message);
      this.changed(tl);
      const wait = Math.min(8000, 400 * 2 ** n);
      const again = () => {
        if (tl.pending(tempId) && tl.pending(tempId).retry === again) this.attempt(tl, tempId, body, n + 1);
      };
      tl.pending(tempId).retry = again;
      setTimeout(again, wait);
    }
  }

  /** retryAll retries every waiting send now (back online, reconnected). */
  retryAll() {
    for (const tl of this.timelines.values()) {
      for (const m of tl.messages.values()) if (m.status === 'retrying' && m.retry) m.retry();
    }
  }

  retry(tempId) {
    const tl = this.tl;
    const m = tl && tl.pending(tempId);
    if (!m) return;
    tl.setStatus(tempId, 'sending');
    renderRoom(this);
    this.attempt(tl, tempId, m.body, 0);
  }

  discard(tempId) {
    if (this.tl && this.tl.discard(tempId)) renderRoom(this);
  }

  startEdit(m) {
    this.editing = m.lk;
    renderRoom(this);
  }

  cancelEdit() {
    this.editing = null;
    renderRoom(this);
  }

  async saveEdit(m, body) {
    const tl = this.tl;
    this.editing = null;
    if (body.trim() && body.trim() !== m.body) {
      try {
        const { data } = await this.api.edit(tl.id, m.id, body);
        tl.applyMessage(data, 'http');
      } catch (e) {
        this.flash(e);
      }
    }
    this.changed(tl);
  }

  /** deleteMessage asks for a second click, then deletes. */
  async deleteMessage(m, button) {
    if (button.dataset.armed !== 'true') {
      button.dataset.armed = 'true';
      button.textContent = 'Delete?';
      return;
    }
    const tl = this.tl;
    try {
      const { data } = await this.api.remove(tl.id, m.id);
      tl.applyMessage(data, 'http');
    } catch (e) {
      this.flash(e);
    }
    this.changed(tl);
  }

  // ---- page wiring -----------------------------------------------------------

  bindUI() {
    const input = $('composer-input');
    $('composer').addEventListener('submit', (e) => {
      e.preventDefault();
      this.send(input.value);
      input.value = '';
    });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        $('composer').requestSubmit();
      }
    });
    input.addEventListener('input', () => {
      this.composerInput(input.value);
      this.suggestMentions(input);
    });
    $('replying-cancel').addEventListener('click', () => this.cancelReply());
    $('attach-input').addEventListener('change', (e) => {
      const files = [...e.target.files];
      e.target.value = '';
      this.attachFiles(files);
    });
    $('pin').addEventListener('click', () => this.setting({ pinned: !this.inbox.items.get(this.openId)?.pinned }));
    $('mute').addEventListener('click', () => this.setting({ muted: !this.inbox.items.get(this.openId)?.muted }));
    $('archive').addEventListener('click', () => this.setting({ archived: true }));
    $('search-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.search($('search-input').value);
    });
    $('search-input').addEventListener('input', (e) => {
      if (!e.target.value) $('search-results').hidden = true;
    });
    input.addEventListener('blur', () => this.stopTyping());
    $('older').addEventListener('click', () => this.loadOlder().catch((e) => this.flash(e)));
    $('signout').addEventListener('click', () => this.signOut());
    $('new-conv').addEventListener('submit', (e) => {
      e.preventDefault();
      const ids = $('new-with').value.split(',').map((s) => s.trim()).filter(Boolean);
      show($('new-error'), false);
      this.createConversation(ids, $('new-title').value.trim()).then(() => {
        $('new-with').value = '';
        $('new-title').value = '';
      }, (err) => show($('new-error'), true, err.message));
    });
    document.addEventListener('visibilitychange', () => this.markRead());
    window.addEventListener('online', () => this.retryAll());
  }

  flash(e) {
    const t = $('typing');
    t.textContent = String(e && e.message ? e.message : e);
    t.classList.add('error');
    setTimeout(() => t.classList.remove('error'), 4000);
  }

  signOut(why) {
    clearSession();
    if (this.rt) this.rt.disconnect();
    clearTimeout(this.pollTimer);
    if (why) sessionStorage.setItem('parley.signout', why);
    location.reload();
  }
}

async function boot() {
  const session = loadSession() || (await signIn());
  try {
    await new App(session).run();
  } catch (e) {
    clearSession();
    sessionStorage.setItem('parley.signout', 'Could not start: ' + (e && e.message ? e.message : e));
    location.reload();
  }
}

boot();
