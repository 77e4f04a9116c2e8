// Drives a Parley node with the real Laravel Echo 2 + pusher-js 8 clients.
// Run by e2e/realtime_echo_test.go, which starts the node and passes
// PARLEY_TEST = {base, key, host, port, conversation, tokens: {alice, bob}}.
// Prints one JSON line with what the clients saw; exits non-zero on failure.
import Echo from 'laravel-echo';
import Pusher from 'pusher-js';

const cfg = JSON.parse(process.env.PARLEY_TEST);
const conv = cfg.conversation;
const deadline = setTimeout(() => fail('timed out'), 30000);

function fail(msg) {
  console.error('echo flow failed: ' + msg);
  process.exit(1);
}

function connect(token) {
  return new Echo({
    broadcaster: 'pusher',
    Pusher,
    key: cfg.key,
    cluster: 'mt1',
    wsHost: cfg.host,
    wsPort: cfg.port,
    wssPort: cfg.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    authEndpoint: cfg.base + '/broadcasting/auth',
    auth: { headers: { Authorization: 'Bearer ' + token } },
  });
}

// until resolves once cond() holds, checking whenever poke() is called.
const waiters = [];
function until(what, cond) {
  return new Promise((resolve) => {
    const w = { what, cond, resolve };
    if (cond()) return resolve();
    waiters.push(w);
  });
}
function poke() {
  for (let i = waiters.length - 1; i >= 0; i--) {
    if (waiters[i].cond()) {
      waiters[i].resolve();
      waiters.splice(i, 1);
    }
  }
}

async function api(token, method, path, body) {
  const res = await fetch(cfg.base + path, {
    method,
    headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) fail(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const send = (n) => api(cfg.tokens.alice, 'POST', '/api/messages/' + conv, { body: 'm' + n, client_temp_id: 'echo-' + n });

const state = {
  aliceSees: new Set(),
  bobSees: new Set(),
  whispers: [],
  bobMessages: [], // every message.sent payload bob's socket delivered
  bobReactions: [], // every message.reacted payload bob's socket delivered
  updates: [],
  subscribed: new Set(),
};

const alice = connect(cfg.tokens.alice);
const bob = connect(cfg.tokens.bob);

for (const [name, echo, seen] of [['alice', alice, state.aliceSees], ['bob', bob, state.bobSees]]) {
  echo.join('messaging')
    .here((users) => { users.forEach((u) => seen.add(u.id)); poke(); })
    .joining((u) => { seen.add(u.id); poke(); })
    .leaving((u) => { seen.delete(u.id); poke(); })
    .error((e) => fail(name + ' presence-messaging: ' + JSON.stringify(e)));
  echo.private('conversation.' + conv)
    .subscribed(() => { state.subscribed.add(name); poke(); })
    .error((e) => fail(name + ' private-conversation: ' + JSON.stringify(e)));
}
bob.private('conversation.' + conv)
  .listen('.message.sent', (e) => { state.bobMessages.push(e); poke(); })
  .listen('.message.reacted', (e) => { state.bobReactions.push(e); poke(); })
  .listenForWhisper('typing', (e) => { state.whispers.push(e); poke(); });
bob.private('user.bob')
  .listen('.conversation.updated', (e) => { state.updates.push(e); poke(); })
  .error((e) => fail('bob private-user: ' + JSON.stringify(e)));

// A channel bob may not join must fail through Echo's .error().
let refused = null;
bob.private('user.alice').error((e) => { refused = e; poke(); });

await until('both online', () => state.aliceSees.has('bob') && state.bobSees.has('alice'));
await until('both subscribed', () => state.subscribed.has('alice') && state.subscribed.has('bob'));
await until('refused subscription', () => refused !== null);

alice.private('conversation.' + conv).whisper('typing', { typing: true });
await until('whisper', () => state.whispers.length > 0);

const first = await send(1);
await until('message.sent', () => state.bobMessages.length === 1);
await until('conversation.updated', () => state.updates.some((u) => u.summary.unread_total === 1 && u.seq === first.seq));

// Bob drops his socket; alice sends meanwhile; bob reconnects and catches up
// with delta from the last seq he saw.
const lastSeen = Math.max(...state.bobMessages.map((e) => e.seq));
const wasSubscribed = () => state.subscribed.has('bob');
bob.connector.pusher.connection.bind('state_change', (s) => { if (s.current === 'connected') poke(); });
state.subscribed.delete('bob');
bob.disconnect();
await until('bob offline', () => bob.connector.pusher.connection.state === 'disconnected');
for (let i = 2; i <= 4; i++) await send(i);
// While he is away alice also answers m1 and reacts to it.
const reply = await api(cfg.tokens.alice, 'POST', '/api/messages/' + conv, { body: 'r1', client_temp_id: 'echo-r1', reply_to: first.id });
await api(cfg.tokens.alice, 'PUT', `/api/messages/${conv}/${first.id}/reactions/${encodeURIComponent('👍')}`);
bob.connector.pusher.connect();
await until('bob resubscribed', wasSubscribed);
const delta = await api(cfg.tokens.bob, 'GET', `/api/messages/${conv}/delta?after_seq=${lastSeen}`);
const fromDelta = delta.events.filter((e) => e.type === 'message.sent').map((e) => e.data);
const reactedInDelta = delta.events.filter((e) => e.type === 'message.reacted').map((e) => e.data);
// Back online, a reaction arrives live.
await api(cfg.tokens.alice, 'PUT', `/api/messages/${conv}/${first.id}/reactions/${encodeURIComponent('🎉')}`);
await until('message.reacted', () => state.bobReactions.length === 1);
await send(5);
await until('live after reconnect', () => state.bobMessages.some((e) => e.data.body === 'm5'));
// A fence: m6 comes after m5 on the same channel, so once it is here a
// second delivery of anything before it would be too.
await send(6);
await until('the fence message', () => state.bobMessages.some((e) => e.data.body === 'm6'));

const history = await api(cfg.tokens.bob, 'GET', `/api/messages/${conv}`);

clearTimeout(deadline);
console.log(JSON.stringify({
  aliceSees: [...state.aliceSees].sort(),
  bobSees: [...state.bobSees].sort(),
  whisper: state.whispers[0],
  refusedStatus: refused && refused.status,
  firstSeq: first.seq,
  update: state.updates.find((u) => u.seq === first.seq),
  lastSeen,
  whispers: state.whispers.length,
  // Every delivery as it came, nothing merged: a duplicate shows.
  socketBodies: state.bobMessages.map((e) => e.data.body),
  socketIds: state.bobMessages.map((e) => e.data.id),
  deltaBodies: fromDelta.map((m) => m.body),
  deltaIds: fromDelta.map((m) => m.id),
  history: history.messages.map((m) => m.id),
  replyTo: (fromDelta.find((m) => m.id === reply.id) || {}).reply_to,
  reactedInDelta,
  reactedLive: state.bobReactions.map((e) => e.data),
  firstInHistory: history.messages.find((m) => m.id === first.id),
}));
alice.disconnect();
bob.disconnect();
process.exit(0);
