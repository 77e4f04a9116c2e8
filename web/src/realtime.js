// Realtime over Laravel Echo + pusher-js, configured from GET /api/config
// exactly as a host application would configure them against Parley.
import Echo from 'laravel-echo';
import Pusher from 'pusher-js';

/** The log events Parley delivers on private-conversation.<id>. */
const CONVERSATION_EVENTS = ['message.sent', 'message.edited', 'message.deleted', 'message.read', 'message.reacted', 'participant.added', 'participant.removed'];

/**
 * connectRealtime opens the socket and the user's own channels:
 * presence-messaging (who is online) and private-user.<me>
 * (conversation.updated / conversation.removed). h receives:
 * onState(state), onReconnect(), onOnline(members), onJoin(member),
 * onLeave(member), onConversationUpdated(payload), onConversationRemoved(payload).
 */
export function connectRealtime(cfg, token, me, h) {
  const echo = new Echo({
    broadcaster: 'pusher',
    Pusher,
    key: cfg.key,
    cluster: cfg.cluster || 'mt1',
    wsHost: cfg.wsHost,
    wsPort: cfg.wsPort,
    wssPort: cfg.wssPort,
    forceTLS: cfg.forceTLS,
    enabledTransports: cfg.enabledTransports,
    disableStats: true,
    authEndpoint: cfg.authEndpoint,
    auth: { headers: { Authorization: 'Bearer ' + token } },
  });
  const conn = echo.connector.pusher.connection;
  let connectedBefore = false;
  conn.bind('state_change', ({ current }) => {
    h.onState(current);
    if (current === 'connected') {
      if (connectedBefore) h.onReconnect();
      connectedBefore = true;
    }
  });
  h.onState(conn.state);

  echo.join('messaging')
    .here((members) => h.onOnline(members))
    .joining((m) => h.onJoin(m))
    .leaving((m) => h.onLeave(m));
  echo.private('user.' + me)
    .listen('.conversation.updated', (p) => h.onConversationUpdated(p))
    .listen('.conversation.removed', (p) => h.onConversationRemoved(p));

  return {
    /**
     * room subscribes to a conversation's private and presence channels. c
     * receives onEvent(wireEvent), onTyping(whisper), onSubscribed() (first
     * subscription and every resubscription after a reconnect: the moment
     * to catch up with delta), onViewers(members), onViewerJoin(m),
     * onViewerLeave(m), onError(err).
     */
    room(conversationId, c) {
      const name = 'conversation.' + conversationId;
      const ch = echo.private(name);
      for (const ev of CONVERSATION_EVENTS) ch.listen('.' + ev, (e) => c.onEvent(e));
      ch.listenForWhisper('typing', (e) => c.onTyping(e));
      ch.subscribed(() => c.onSubscribed());
      ch.error((e) => c.onError(e));
      echo.join(name)
        .here((ms) => c.onViewers(ms))
        .joining((m) => c.onViewerJoin(m))
        .leaving((m) => c.onViewerLeave(m));
      return {
        whisper: (data) => ch.whisper('typing', data),
        leave: () => echo.leave(name),
      };
    },
    disconnect: () => echo.disconnect(),
  };
}
