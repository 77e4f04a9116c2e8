// The page's client-side model, free of DOM and network: the inbox and one
// timeline per conversation. Everything the server says (history pages, the
// send answer, socket events, delta events) is merged here, idempotently, so
// the same message arriving twice, or by two paths, shows once.

let revCounter = 0;
const nextRev = () => ++revCounter;

/** newTempId makes a client_temp_id (at most 64 characters). */
export function newTempId() {
  const rnd = globalThis.crypto && crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2);
  return 'web-' + rnd;
}

/**
 * Inbox holds the user's conversation summaries and unread total. A summary
 * replaces the one held only when its last_seq (the conversation's last
 * event) is not older; the total only when its stamp (the stream sequence it
 * is known to include) is not older.
 */
export class Inbox {
  constructor() {
    this.items = new Map();
    this.total = 0;
    this.totalStamp = -1;
  }

  /** upsert stores a summary unless the one held is newer; reports a change. */
  upsert(s) {
    const cur = this.items.get(s.id);
    if (cur && cur.last_seq > s.last_seq) return false;
    this.items.set(s.id, s);
    return true;
  }

  remove(id) {
    return this.items.delete(id);
  }

  setTotal(total, stamp) {
    if (stamp < this.totalStamp) return false;
    this.total = total;
    this.totalStamp = stamp;
    return true;
  }

  /**
   * sorted lists the conversations the inbox shows: pinned first, then
   * newest activity first; archived ones are left out (a new message
   * brings one back: the server's summary says archived false then).
   */
  sorted() {
    return [...this.items.values()]
      .filter((s) => !s.archived)
      .sort((a, b) => (b.pinned ? 1 : 0) - (a.pinned ? 1 : 0) || b.last_activity_seq - a.last_activity_seq || (a.id < b.id ? 1 : -1));
  }
}

/**
 * Timeline is one conversation's messages, read markers and delta cursor.
 * Messages are keyed by a local key: the server id, or for the user's own
 * optimistic sends "tmp:<client_temp_id>", which the confirmed message keeps
 * so its element stays the same.
 *
 * cursor is a stream sequence such that every event of this conversation up
 * to it is applied: delta resumes after it. Only gap-free sources move it:
 * the first load (a snapshot), a finished delta (its last_seq), and socket
 * events once the channel is "live" (subscribed, and a delta that started
 * after the subscription has finished). Send, edit and history answers are
 * merged but never move it: a message in flight on the socket may be older.
 */
export class Timeline {
  constructor(conversationId, me) {
    this.id = conversationId;
    this.me = me;
    this.messages = new Map(); // local key -> message (+ lk, rev, source, status)
    this.ids = new Map(); // server id -> local key
    this.temps = new Map(); // own client_temp_id -> local key
    this.markers = new Map(); // user id -> last read seq
    this.cursor = 0;
    this.live = false; // socket events are gap-free and move the cursor
    this.subscribed = false;
    this.epoch = 0; // counts (re)subscriptions
    this.heldSeq = 0; // highest socket seq seen while not yet live
    this.loaded = false;
    this.hasOlder = false;
    this.pendingOrder = 0;
  }

  /**
   * applyMessage merges a server message. It answers "added", "reconciled"
   * (an optimistic send confirmed), "updated" (edited or deleted since) or
   * "duplicate".
   */
  applyMessage(m, source) {
    const lk = this.ids.get(m.id);
    if (lk !== undefined) {
      const cur = this.messages.get(lk);
      let changed = false;
      // History pages and reaction answers carry the message's current
      // reactions, reply count and quote (absent when none); socket and
      // delta events do not, and leave them as they are.
      if (source === 'history' || source === 'reaction') {
        const rs = m.reactions || [];
        if (JSON.stringify(rs) !== JSON.stringify(cur.reactions || [])) {
          cur.reactions = rs;
          changed = true;
        }
        if ((m.reply_count || 0) !== (cur.reply_count || 0)) {
          cur.reply_count = m.reply_count || 0;
          changed = true;
        }
        if (m.quote && JSON.stringify(m.quote) !== JSON.stringify(cur.quote)) {
          cur.quote = m.quote;
          changed = true;
        }
      }
      if (m.mentions !== undefined && JSON.stringify(m.mentions) !== JSON.stringify(cur.mentions || [])) {
        cur.mentions = m.mentions;
        changed = true;
      }
      if (m.deleted_at && !cur.deleted_at) {
        Object.assign(cur, { deleted_at: m.deleted_at, body: '' });
        changed = true;
      } else if (!cur.deleted_at && m.edited_at && (!cur.edited_at || m.edited_at > cur.edited_at)) {
        Object.assign(cur, { edited_at: m.edited_at, body: m.body });
        changed = true;
      }
      if (changed) cur.rev = nextRev();
      return changed ? 'updated' : 'duplicate';
    }
    const tlk = m.sender_id === this.me && m.client_temp_id ? this.temps.get(m.client_temp_id) : undefined;
    if (tlk !== undefined && this.messages.get(tlk).status) {
      const pending = this.messages.get(tlk);
      this.messages.set(tlk, { ...m, lk: tlk, rev: nextRev(), source, status: null, order: pending.order });
      this.ids.set(m.id, tlk);
      this.countReply(m, source, 1);
      return 'reconciled';
    }
    this.messages.set(m.id, { ...m, lk: m.id, rev: nextRev(), source, status: null });
    this.ids.set(m.id, m.id);
    if (m.sender_id === this.me && m.client_temp_id) this.temps.set(m.client_temp_id, m.id);
    this.countReply(m, source, 1);
    return 'added';
  }

  /**
   * countReply follows a reply that arrives live (socket, delta or the send
   * answer) on the message it answers, when that one is held: history
   * answers carry reply_count already.
   */
  countReply(m, source, by) {
    if (!m.reply_to || source === 'history') return;
    const plk = this.ids.get(m.reply_to);
    const p = plk !== undefined && this.messages.get(plk);
    if (!p || p.seq >= m.seq) return;
    p.reply_count = Math.max(0, (p.reply_count || 0) + by);
    if (by > 0) p.last_reply_at = m.created_at;
    p.rev = nextRev();
  }

  /**
   * applyReaction follows message.reacted: every one delivered is a
   * change, so the count moves by one; me says whether it is the user's.
   */
  applyReaction(d) {
    const lk = this.ids.get(d.message_id);
    if (lk === undefined) return false;
    const m = this.messages.get(lk);
    const rs = (m.reactions || []).map((r) => ({ ...r }));
    let r = rs.find((x) => x.emoji === d.emoji);
    if (!r) {
      if (!d.reacted) return false;
      r = { emoji: d.emoji, count: 0, me: false };
      rs.push(r);
    }
    r.count += d.reacted ? 1 : -1;
    if (d.user_id === this.me) r.me = d.reacted;
    m.reactions = rs.filter((x) => x.count > 0);
    m.rev = nextRev();
    return true;
  }

  /** byId returns the held message with a server id, or null. */
  byId(id) {
    const lk = this.ids.get(id);
    return lk === undefined ? null : this.messages.get(lk);
  }

  /** addPending shows an own message before the server has it. */
  addPending(body, tempId) {
    const lk = 'tmp:' + tempId;
    this.temps.set(tempId, lk);
    this.messages.set(lk, {
      id: null, lk, body, client_temp_id: tempId, sender_id: this.me, conversation_id: this.id, seq: 0,
      created_at: new Date().toISOString(), edited_at: null, deleted_at: null,
      rev: nextRev(), source: 'local', status: 'sending', order: ++this.pendingOrder,
    });
    return lk;
  }

  /** pending returns the unconfirmed own message with tempId, or null. */
  pending(tempId) {
    const lk = this.temps.get(tempId);
    const m = lk && this.messages.get(lk);
    return m && m.status ? m : null;
  }

  /** setStatus marks a pending message sending, retrying or failed. */
  setStatus(tempId, status, detail) {
    const m = this.pending(tempId);
    if (!m) return false;
    Object.assign(m, { status, detail: detail || '', rev: nextRev() });
    return true;
  }

  /** discard forgets a failed send. */
  discard(tempId) {
    const m = this.pending(tempId);
    if (!m) return false;
    this.messages.delete(m.lk);
    this.temps.delete(tempId);
    return true;
  }

  /** applyChange applies message.edited / message.deleted data. */
  applyChange(d, at) {
    const lk = this.ids.get(d.message_id);
    if (lk === undefined) return false;
    const cur = this.messages.get(lk);
    const m = { ...cur, edited_at: d.edited_at || null, deleted_at: d.deleted_at || null, body: d.body ?? cur.body };
    if (!d.edited_at && !d.deleted_at) m.edited_at = at;
    if (d.body !== undefined) m.mentions = d.mentions || [];
    const wasLive = !cur.deleted_at;
    const changed = this.applyMessage(m, 'change') === 'updated';
    if (changed && d.deleted_at && wasLive) this.countReply(cur, 'change', -1);
    return changed;
  }

  /** setMarker moves a user's read marker forward (never back). */
  setMarker(userId, seq) {
    if ((this.markers.get(userId) || 0) >= seq) return false;
    this.markers.set(userId, seq);
    return true;
  }

  /**
   * applyEvent merges one wire event {seq, type, data, ...} from the socket
   * or a delta; it reports whether anything visible changed.
   */
  applyEvent(ev, source) {
    let changed = false;
    switch (ev.type) {
      case 'message.sent':
        changed = this.applyMessage(ev.data, source) !== 'duplicate';
        break;
      case 'message.edited':
      case 'message.deleted':
        changed = this.applyChange(ev.data, ev.at);
        break;
      case 'message.reacted':
        changed = this.applyReaction(ev.data);
        break;
      case 'conversation.read':
      case 'message.read': {
        const lk = this.ids.get(ev.data.message_id);
        if (lk !== undefined) changed = this.setMarker(ev.data.user_id, this.messages.get(lk).seq);
        break;
      }
    }
    if (source === 'socket') {
      if (this.live) this.cursor = Math.max(this.cursor, ev.seq || 0);
      else this.heldSeq = Math.max(this.heldSeq, ev.seq || 0);
    }
    return changed;
  }

  /** onSubscribed records a (re)subscription: not live until a delta catches up. */
  onSubscribed() {
    this.subscribed = true;
    this.live = false;
    this.heldSeq = 0;
    this.epoch++;
  }

  /** onUnsubscribed: the socket dropped or the room was left. */
  onUnsubscribed() {
    this.subscribed = false;
    this.live = false;
  }

  /**
   * caughtUp records a finished delta (has_more false) that started during
   * subscription epoch (or -1 when not subscribed then): the cursor moves to
   * its last_seq and, when the subscription is still the same, past the
   * socket events held meanwhile, and the channel becomes live.
   */
  caughtUp(lastSeq, epoch) {
    this.cursor = Math.max(this.cursor, lastSeq);
    if (this.subscribed && epoch === this.epoch) {
      this.cursor = Math.max(this.cursor, this.heldSeq);
      this.live = true;
    }
  }

  /** sorted lists confirmed messages by seq, then pending ones as sent. */
  sorted() {
    const all = [...this.messages.values()];
    const done = all.filter((m) => !m.status).sort((a, b) => a.seq - b.seq);
    const pending = all.filter((m) => m.status).sort((a, b) => a.order - b.order);
    return done.concat(pending);
  }

  /** oldest is the first confirmed message (the history page cursor). */
  oldest() {
    return this.sorted().find((m) => !m.status) || null;
  }

  /** newestFromOthers is the last visible message someone else sent. */
  newestFromOthers() {
    const s = this.sorted();
    for (let i = s.length - 1; i >= 0; i--) {
      const m = s[i];
      if (!m.status && m.sender_id !== this.me && !m.deleted_at) return m;
    }
    return null;
  }

  /**
   * seenBy maps the local key of own messages to who has read up to them:
   * each other participant appears once, under the newest own message their
   * marker covers.
   */
  seenBy() {
    const own = this.sorted().filter((m) => !m.status && m.sender_id === this.me && !m.deleted_at);
    const out = new Map();
    for (const [user, seq] of this.markers) {
      if (user === this.me) continue;
      let hit = null;
      for (const m of own) if (m.seq <= seq) hit = m;
      if (hit) out.set(hit.lk, [...(out.get(hit.lk) || []), user]);
    }
    return out;
  }
}
