// Drives Parley's Pusher HTTP API with the official Pusher server SDK
// (`pusher` on npm) while pusher-js 8 clients listen, as a Laravel app and
// its front end would. Run by e2e/pusher_sdk_test.go, which starts the node
// and passes PARLEY_TEST = {host, port, appId, key, secret}.
// Prints one JSON object with what happened; exits non-zero on failure.
import PusherServer from 'pusher';
import PusherJS from 'pusher-js';

const cfg = JSON.parse(process.env.PARLEY_TEST);
const deadline = setTimeout(() => fail('timed out'), 40000);

function fail(msg) {
  console.error('pusher sdk flow failed: ' + msg);
  process.exit(1);
}

const server = new PusherServer({
  appId: cfg.appId, key: cfg.key, secret: cfg.secret, host: cfg.host, port: String(cfg.port), useTLS: false,
});

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
setInterval(poke, 20);

// client connects pusher-js; private and presence subscriptions are signed
// as the application's own auth endpoint would, with the server SDK.
function client(name, userId) {
  const seen = [];
  const socket = new PusherJS(cfg.key, {
    wsHost: cfg.host, wsPort: cfg.port, wssPort: cfg.port, forceTLS: false, enabledTransports: ['ws'],
    cluster: 'mt1', disableStats: true,
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, cb) => {
        const data = channelName.startsWith('presence-') ? { user_id: userId, user_info: { name } } : undefined;
        cb(null, server.authorizeChannel(socketId, channelName, data));
      },
    },
  });
  const state = { name, socket, seen, subscribed: new Set(), cacheMiss: new Set(), closed: null };
  socket.connection.bind('state_change', (s) => { if (s.current !== 'connected' && s.previous === 'connected') state.closed = s.current; poke(); });
  socket.connection.bind('error', (e) => { state.error = e?.error?.data?.code ?? null; poke(); });
  return state;
}

function subscribe(c, channel) {
  const ch = c.socket.subscribe(channel);
  ch.bind('pusher:subscription_succeeded', () => { c.subscribed.add(channel); poke(); });
  ch.bind('pusher:subscription_error', (e) => fail(`${c.name} could not subscribe to ${channel}: ${JSON.stringify(e)}`));
  ch.bind('pusher:cache_miss', () => { c.cacheMiss.add(channel); poke(); });
  return ch;
}

const got = (c, event, channelWanted) => c.seen.filter((s) => s.event === event && (!channelWanted || s.channel === channelWanted));

async function expectStatus(promise) {
  try {
    await promise;
    return 200;
  } catch (e) {
    return e.status ?? -1;
  }
}

async function json(res) {
  return await res.json();
}

const out = {};
const a = client('Ann', 1);
const b = client('Bob', '2');
await until('both connected', () => a.socket.connection.socket_id && b.socket.connection.socket_id);

for (const c of [a, b]) {
  for (const name of ['news', 'private-orders', 'presence-room']) {
    const ch = subscribe(c, name);
    ch.bind_global((event, data) => {
      if (!event.startsWith('pusher')) c.seen.push({ event, data, channel: name });
    });
  }
}
await until('subscribed', () => a.subscribed.size === 3 && b.subscribed.size === 3);
const presence = a.socket.channel('presence-room');
await until('presence of two', () => presence.members.count === 2);
out.presenceIds = Object.keys(presence.members.members).sort();
out.presenceInfo = presence.members.get('2')?.info ?? null;

// 1. A plain event on a public channel reaches both.
await server.trigger('news', 'headline', { text: 'hello' });
await until('headline', () => got(a, 'headline', 'news').length === 1 && got(b, 'headline', 'news').length === 1);
out.headline = got(b, 'headline', 'news')[0].data;

// 2. Two channels with socket_id: Ann's socket is left out.
await server.trigger(['news', 'private-orders'], 'multi', { n: 1 }, { socket_id: a.socket.connection.socket_id });
await server.trigger(['news', 'private-orders'], 'fence', { n: 2 });
await until('fence', () => got(a, 'fence').length === 2 && got(b, 'fence').length === 2);
out.multiAnn = got(a, 'multi').length;
out.multiBob = got(b, 'multi').map((s) => s.channel).sort();

// 3. A batch, one item excluding Bob's socket; info answers.
const batch = await json(await server.triggerBatch([
  { channel: 'private-orders', name: 'b1', data: JSON.stringify({ k: 'x' }) },
  { channel: 'presence-room', name: 'b2', data: JSON.stringify({ k: 'y' }), info: 'user_count,subscription_count' },
  { channel: 'news', name: 'b3', data: 'plain text', socket_id: b.socket.connection.socket_id },
]));
await server.trigger(['news'], 'fence2', {});
await until('batch', () => got(a, 'fence2').length === 1 && got(b, 'fence2').length === 1 && got(a, 'b2').length === 1);
out.batchInfo = batch;
out.batchAnn = got(a, 'b1').length + got(a, 'b2').length + got(a, 'b3').length;
out.batchBob = got(b, 'b1').length + got(b, 'b2').length + got(b, 'b3').length;
out.b3Data = got(a, 'b3')[0]?.data ?? null;

// 4. Trigger with info.
out.triggerInfo = await json(await server.trigger('news', 'counted', {}, { info: 'subscription_count' }));

// 5. Client events on a private channel, as Pusher allows them.
a.socket.channel('private-orders').trigger('client-note', { from: 'ann' });
await until('client event', () => got(b, 'client-note').length === 1);
out.clientEvent = got(b, 'client-note')[0].data;

// 6. Queries.
out.channels = await json(await server.get({ path: '/channels' }));
out.presenceChannels = await json(await server.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } }));
out.newsInfo = await json(await server.get({ path: '/channels/news', params: { info: 'subscription_count' } }));
out.users = await json(await server.get({ path: '/channels/presence-room/users' }));
out.connections = await json(await server.get({ path: '/connections' }));
out.usersOfPublic = await expectStatus(server.get({ path: '/channels/news/users' }));

// 7. Cache channels: the last event on subscribe, or cache_miss.
await server.trigger('cache-ticker', 'price', { v: 41 });
await server.trigger('cache-ticker', 'price', { v: 42 });
const c = client('Cat', 3);
await until('cat connected', () => c.socket.connection.socket_id);
for (const name of ['cache-ticker', 'cache-empty', 'private-cache-secret']) {
  const ch = subscribe(c, name);
  ch.bind_global((event, data) => { if (!event.startsWith('pusher')) c.seen.push({ event, data, channel: name }); });
}
await until('cache replay', () => got(c, 'price', 'cache-ticker').length === 1 && c.cacheMiss.has('cache-empty') && c.cacheMiss.has('private-cache-secret'));
out.cached = got(c, 'price', 'cache-ticker')[0].data;
out.cacheMiss = [...c.cacheMiss].sort();

// 8. Refused: a wrong secret, and a stale timestamp.
const wrong = new PusherServer({ appId: cfg.appId, key: cfg.key, secret: 'not-the-secret', host: cfg.host, port: String(cfg.port), useTLS: false });
out.wrongSecret = await expectStatus(wrong.trigger('news', 'evil', {}));
const realNow = Date.now;
Date.now = () => realNow() - 3600 * 1000;
out.stale = await expectStatus(server.trigger('news', 'stale', {}));
Date.now = realNow;
out.wrongApp = await expectStatus(new PusherServer({ appId: 'nope', key: cfg.key, secret: cfg.secret, host: cfg.host, port: String(cfg.port), useTLS: false }).trigger('news', 'x', {}));
// A fence on the same channel, triggered after the refused ones: once both
// sockets have it, a refused event that got through would be here too.
await server.trigger('news', 'fence3', {});
await until('fence3', () => got(a, 'fence3', 'news').length === 1 && got(b, 'fence3', 'news').length === 1);
out.leaked = [a, b].reduce((n, c) => n + got(c, 'evil').length + got(c, 'stale').length + got(c, 'x').length, 0);

// 9. Terminate Bob's connections.
await server.terminateUserConnections('2');
await until('bob terminated', () => b.closed !== null);
out.bobClosed = b.closed;
out.bobError = b.error ?? null;

clearTimeout(deadline);
console.log(JSON.stringify(out));
process.exit(0);
