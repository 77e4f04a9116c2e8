// Drives Parley through nginx (deploy/nginx/parley.conf) over TLS with the
// real Laravel Echo 2 + pusher-js 8 clients and the Pusher server SDK, as a
// Laravel application and its browsers would in production. Run by
// e2e/deploy_nginx_test.go, which starts the node and nginx and passes
// PARLEY_TEST = {base, appId, secret, conversation, tokens: {alice, bob}};
// NODE_EXTRA_CA_CERTS trusts the proxy's self-signed certificate.
// Everything, /api/config included, goes through the proxy at `base`.
// Prints one JSON line with what the clients saw; exits non-zero on failure.
import Echo from 'laravel-echo';
import Pusher from 'pusher-js';
import PusherServer from 'pusher';

const cfg = JSON.parse(process.env.PARLEY_TEST);
const conv = cfg.conversation;
const deadline = setTimeout(() => fail('timed out'), 90000);

function fail(msg) {
  console.error('nginx flow failed: ' + msg);
  process.exit(1);
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

// What the page does: ask Parley where to connect, then connect there.
const config = await api(cfg.tokens.alice, 'GET', '/api/config');

function connect(token) {
  return new Echo({
    broadcaster: 'pusher',
    Pusher,
    key: config.key,
    cluster: config.cluster,
    wsHost: config.wsHost,
    wsPort: config.wsPort,
    wssPort: config.wssPort,
    forceTLS: config.forceTLS,
    enabledTransports: config.enabledTransports,
    disableStats: true,
    authEndpoint: config.authEndpoint,
    auth: { headers: { Authorization: 'Bearer ' + token } },
  });
}

// until resolves once cond() holds, checking whenever poke() is called.
const waiters = [];
function until(what, cond) {
  return new Promise((resolve) => {
    if (cond()) return resolve();
    waiters.push({ what, cond, resolve });
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

const state = { aliceSees: new Set(), bobSees: new Set(), whispers: [], messages: [], announcements: [], subscribed: new Set() };
const alice = connect(cfg.tokens.alice);
const bob = connect(cfg.tokens.bob);
for (const [name, echo, seen] of [['alice', alice, state.aliceSees], ['bob', bob, state.bobSees]]) {
  echo.join('messaging')
    .here((users) => { users.forEach((u) => seen.add(u.id)); poke(); })
    .joining((u) => { seen.add(u.id); poke(); })
    .error((e) => fail(name + ' presence-messaging: ' + JSON.stringify(e)));
  echo.private('conversation.' + conv)
    .subscribed(() => { state.subscribed.add(name); poke(); })
    .error((e) => fail(name + ' private-conversation: ' + JSON.stringify(e)));
}
bob.private('conversation.' + conv)
  .listen('.message.sent', (e) => { state.messages.push(e); poke(); })
  .listenForWhisper('typing', (e) => { state.whispers.push(e); poke(); });
bob.channel('announcements')
  .subscribed(() => { state.subscribed.add('announcements'); poke(); })
  .listen('.notice', (e) => { state.announcements.push(e); poke(); });

await until('presence both ways', () => state.aliceSees.has('bob') && state.bobSees.has('alice'));
await until('subscriptions', () => ['alice', 'bob', 'announcements'].every((n) => state.subscribed.has(n)));

alice.private('conversation.' + conv).whisper('typing', { typing: true });
await until('whisper', () => state.whispers.length > 0);

const sent = await api(cfg.tokens.alice, 'POST', '/api/messages/' + conv, { body: 'through nginx', client_temp_id: 'nginx-1' });
await until('message.sent', () => state.messages.some((e) => e.data.id === sent.id));

// The application's server side: the Pusher HTTP API through the proxy.
const server = new PusherServer({
  appId: cfg.appId, key: config.key, secret: cfg.secret, host: config.wsHost, port: String(config.wssPort), useTLS: true,
});
const res = await server.trigger('announcements', 'notice', { text: 'hello through nginx' });
if (res.status !== 200) fail('Pusher HTTP API trigger: ' + res.status);
await until('a server-triggered event', () => state.announcements.length > 0);

clearTimeout(deadline);
console.log(JSON.stringify({
  config: { wsHost: config.wsHost, wssPort: config.wssPort, forceTLS: config.forceTLS, authEndpoint: config.authEndpoint },
  aliceSees: [...state.aliceSees].sort(),
  bobSees: [...state.bobSees].sort(),
  whisper: state.whispers[0],
  sentId: sent.id,
  delivered: state.messages.map((e) => e.data.id),
  announcement: state.announcements[0],
  transport: bob.connector.pusher.connection.connection?.transport?.name ?? null,
}));
alice.disconnect();
bob.disconnect();
process.exit(0);
