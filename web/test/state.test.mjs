// Unit tests of the page's merge rules (src/state.js) with Node's test
// runner: `node --test test/` (run by api/page_state_test.go).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Inbox, Timeline, newTempId } from '../src/state.js';

const msg = (id, seq, sender, extra = {}) => ({
  id, seq, sender_id: sender, conversation_id: 'c', body: 'm' + seq, client_temp_id: 't' + seq,
  created_at: '2026-01-01T00:00:00.000000Z', edited_at: null, deleted_at: null, ...extra,
});
const sent = (m) => ({ seq: m.seq, type: 'message.sent', id: m.id, actor_id: m.sender_id, at: m.created_at, data: m });
const bodies = (tl) => tl.sorted().map((m) => m.body);

test('an optimistic send is reconciled once, by whichever answer comes first', () => {
  for (const order of [['http', 'socket'], ['socket', 'http']]) {
    const tl = new Timeline('c', 'me');
    const temp = newTempId();
    assert.ok(temp.length <= 64);
    const lk = tl.addPending('hello', temp);
    const server = msg('M1', 5, 'me', { body: 'hello', client_temp_id: temp });
    const apply = (how) => (how === 'http' ? tl.applyMessage(server, 'http') : tl.applyEvent(sent(server), 'socket') && 'changed');
    assert.equal(apply(order[0]), order[0] === 'http' ? 'reconciled' : 'changed');
    assert.equal(tl.applyMessage(server, 'delta'), 'duplicate');
    assert.equal(apply(order[1]) || 'duplicate', 'duplicate');
    assert.deepEqual(bodies(tl), ['hello']);
    assert.equal(tl.sorted()[0].lk, lk, 'the confirmed message keeps the pending element key');
    assert.equal(tl.sorted()[0].source, order[0]);
    assert.equal(tl.pending(temp), null);
  }
});

test("someone else's message with my client_temp_id is not mine to reconcile", () => {
  const tl = new Timeline('c', 'me');
  tl.addPending('mine', 'x');
  assert.equal(tl.applyMessage(msg('M1', 3, 'bob', { client_temp_id: 'x' }), 'socket'), 'added');
  assert.equal(tl.sorted().length, 2);
  assert.ok(tl.pending('x'));
});

test('messages sort by seq, pending ones last in the order sent', () => {
  const tl = new Timeline('c', 'me');
  tl.addPending('p1', 'a');
  tl.applyMessage(msg('M9', 9, 'bob'), 'socket');
  tl.addPending('p2', 'b');
  tl.applyMessage(msg('M4', 4, 'bob'), 'history');
  assert.deepEqual(bodies(tl), ['m4', 'm9', 'p1', 'p2']);
});

test('edits: the newer edited_at wins; a deletion is final', () => {
  const tl = new Timeline('c', 'me');
  tl.applyMessage(msg('M1', 1, 'bob'), 'history');
  const edit = (body, at, seq) => tl.applyEvent({ seq, type: 'message.edited', at, data: { message_id: 'M1', body, edited_at: at } }, 'delta');
  assert.equal(edit('two', '2026-01-01T00:00:02.000000Z', 3), true);
  assert.equal(edit('one', '2026-01-01T00:00:01.000000Z', 2), false);
  assert.deepEqual(bodies(tl), ['two']);
  assert.equal(tl.applyEvent({ seq: 4, type: 'message.deleted', at: 'x', data: { message_id: 'M1', deleted_at: '2026-01-01T00:00:04.000000Z' } }, 'socket'), true);
  assert.equal(edit('three', '2026-01-01T00:00:05.000000Z', 5), false);
  assert.equal(tl.sorted()[0].deleted_at, '2026-01-01T00:00:04.000000Z');
  assert.equal(tl.newestFromOthers(), null, 'a deleted message is not read-marked');
});

test('answers never move the cursor; socket events move it only once live', () => {
  const tl = new Timeline('c', 'me');
  tl.cursor = 10;
  tl.applyMessage(msg('M20', 20, 'me'), 'http');
  assert.equal(tl.cursor, 10, 'a send answer may be ahead of a message still in flight');
  tl.onSubscribed();
  const epoch = tl.epoch;
  tl.applyEvent(sent(msg('M30', 30, 'bob')), 'socket');
  assert.equal(tl.cursor, 10, 'held until a delta started after the subscription finishes');
  tl.caughtUp(25, epoch);
  assert.equal(tl.cursor, 30);
  assert.equal(tl.live, true);
  tl.applyEvent(sent(msg('M31', 31, 'bob')), 'socket');
  assert.equal(tl.cursor, 31);
  tl.onUnsubscribed();
  tl.applyEvent(sent(msg('M40', 40, 'bob')), 'socket');
  assert.equal(tl.cursor, 31, 'not live after the socket dropped');
});

test('a delta from before a resubscription does not make the room live', () => {
  const tl = new Timeline('c', 'me');
  tl.onSubscribed();
  const old = tl.epoch;
  tl.onUnsubscribed();
  tl.onSubscribed();
  tl.applyEvent(sent(msg('M9', 9, 'bob')), 'socket');
  tl.caughtUp(5, old);
  assert.equal(tl.cursor, 5);
  assert.equal(tl.live, false);
  tl.caughtUp(7, -1);
  assert.equal(tl.live, false, 'a delta that started unsubscribed proves nothing about the socket');
});

test('read markers move forward only and place "seen by" under the newest own message they cover', () => {
  const tl = new Timeline('c', 'me');
  tl.applyMessage(msg('A', 1, 'me'), 'history');
  tl.applyMessage(msg('B', 2, 'bob'), 'history');
  tl.applyMessage(msg('C', 3, 'me'), 'history');
  tl.applyMessage(msg('D', 4, 'me'), 'history');
  const read = (user, id, seq) => tl.applyEvent({ seq, type: 'message.read', data: { user_id: user, message_id: id } }, 'socket');
  assert.equal(read('bob', 'C', 10), true);
  assert.equal(read('carol', 'A', 11), true);
  assert.equal(read('bob', 'A', 12), false, 'markers never move back');
  assert.equal(read('bob', 'unknown', 13), false);
  assert.deepEqual([...tl.seenBy()], [['C', ['bob']], ['A', ['carol']]]);
  assert.equal(tl.newestFromOthers().id, 'B');
});

test('the inbox keeps the newest summary and total, newest activity first', () => {
  const ib = new Inbox();
  assert.equal(ib.upsert({ id: 'x', last_seq: 5, last_activity_seq: 5, unread_count: 2 }), true);
  assert.equal(ib.upsert({ id: 'x', last_seq: 4, last_activity_seq: 4, unread_count: 1 }), false);
  ib.upsert({ id: 'y', last_seq: 7, last_activity_seq: 7, unread_count: 0 });
  assert.deepEqual(ib.sorted().map((s) => s.id), ['y', 'x']);
  assert.equal(ib.setTotal(3, 7), true);
  assert.equal(ib.setTotal(9, 6), false);
  assert.equal(ib.total, 3);
  assert.equal(ib.setTotal(2, 7), true, 'the same stamp: the later answer wins');
});

test('message.reacted moves a count by one each, and me follows the user', () => {
  const tl = new Timeline('c', 'me');
  tl.applyMessage(msg('M1', 1, 'bob'), 'history');
  const reacted = (user, emoji, on, seq) => ({ seq, type: 'message.reacted', data: { message_id: 'M1', user_id: user, emoji, reacted: on } });
  assert.ok(tl.applyEvent(reacted('bob', '👍', true, 2), 'socket'));
  assert.ok(tl.applyEvent(reacted('me', '👍', true, 3), 'delta'));
  assert.ok(tl.applyEvent(reacted('bob', '🎉', true, 4), 'socket'));
  assert.deepEqual(tl.byId('M1').reactions, [{ emoji: '👍', count: 2, me: true }, { emoji: '🎉', count: 1, me: false }]);
  assert.ok(tl.applyEvent(reacted('me', '👍', false, 5), 'socket'));
  assert.ok(tl.applyEvent(reacted('bob', '🎉', false, 6), 'socket'));
  assert.deepEqual(tl.byId('M1').reactions, [{ emoji: '👍', count: 1, me: false }]);
  // A history page is the truth for reactions; a socket copy of the message is not.
  tl.applyMessage(msg('M1', 1, 'bob', { reactions: [{ emoji: '👀', count: 3, me: true }] }), 'history');
  tl.applyMessage(msg('M1', 1, 'bob'), 'socket');
  assert.deepEqual(tl.byId('M1').reactions, [{ emoji: '👀', count: 3, me: true }]);
});

test('a live reply counts on its target once; deleting it takes it back', () => {
  const tl = new Timeline('c', 'me');
  tl.applyMessage(msg('P', 1, 'bob'), 'history');
  const reply = msg('R', 2, 'bob', { reply_to: 'P' });
  assert.ok(tl.applyEvent(sent(reply), 'socket'));
  assert.equal(tl.applyEvent(sent(reply), 'delta'), false, 'the same reply again');
  assert.equal(tl.byId('P').reply_count, 1);
  assert.ok(tl.applyEvent({ seq: 3, type: 'message.deleted', at: 'x', data: { message_id: 'R', deleted_at: '2026-01-01T00:00:01.000000Z' } }, 'socket'));
  assert.equal(tl.byId('P').reply_count, 0);
});

test('the inbox puts pinned conversations first and leaves archived ones out', () => {
  const inbox = new Inbox();
  inbox.upsert({ id: 'a', last_seq: 1, last_activity_seq: 1 });
  inbox.upsert({ id: 'b', last_seq: 2, last_activity_seq: 2 });
  inbox.upsert({ id: 'c', last_seq: 3, last_activity_seq: 3, archived: true });
  inbox.upsert({ id: 'a', last_seq: 1, last_activity_seq: 1, pinned: true });
  assert.deepEqual(inbox.sorted().map((s) => s.id), ['a', 'b']);
});
