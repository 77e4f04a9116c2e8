// A Laravel Echo 2 + pusher-js 8 client that stays connected while its
// server is stopped with SIGTERM and started again. Run by
// e2e/deploy_shutdown_test.go, which passes PARLEY_TEST = {host, port, key,
// conversation, token}. Prints one JSON line per thing that happens:
//   {"ev":"subscribed","socket":...}   (first, and again after a reconnect)
//   {"ev":"state","state":...}         (pusher-js connection states)
//   {"ev":"message","body":...}        (message.sent on the conversation)
// and exits 0 once it has seen a message whose body is "after-restart"
// arrive on a socket other than its first.
import Echo from 'laravel-echo';
import Pusher from 'pusher-js';

const cfg = JSON.parse(process.env.PARLEY_TEST);
const deadline = setTimeout(() => fail('timed out'), 240000);
const say = (o) => console.log(JSON.stringify(o));

function fail(msg) {
  console.error('shutdown flow failed: ' + msg);
  process.exit(1);
}

const echo = new Echo({
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
  authEndpoint: `http://${cfg.host}:${cfg.port}/broadcasting/auth`,
  auth: { headers: { Authorization: 'Bearer ' + cfg.token } },
});
const pusher = echo.connector.pusher;
const sockets = [];
pusher.connection.bind('state_change', (s) => say({ ev: 'state', state: s.current }));
echo.private('conversation.' + cfg.conversation)
  .subscribed(() => {
    sockets.push(pusher.connection.socket_id);
    say({ ev: 'subscribed', socket: pusher.connection.socket_id });
  })
  .error((e) => say({ ev: 'subscription_error', status: e?.status ?? null }))
  .listen('.message.sent', (e) => {
    say({ ev: 'message', body: e.data.body, socket: pusher.connection.socket_id });
    if (e.data.body === 'after-restart' && pusher.connection.socket_id !== sockets[0]) {
      clearTimeout(deadline);
      echo.disconnect();
      process.exit(0);
    }
  });
