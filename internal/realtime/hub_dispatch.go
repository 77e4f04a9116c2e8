package realtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync/atomic"

	"parley/engine"
)

// SummaryReader reads what conversation.updated needs. projections.DB is one.
type SummaryReader interface {
	// ParticipantIDs lists the conversation's participants.
	ParticipantIDs(ctx context.Context, conversationID string) ([]string, error)
	// ConversationView returns the part of a conversation's summary every
	// participant shares (nil when it does not exist).
	ConversationView(ctx context.Context, conversationID string) (*engine.ConversationSummary, error)
	// Snapshot reads one participant's summary and unread total with the
	// checkpoint they reflect (nil when not a participant).
	Snapshot(ctx context.Context, conversationID, userID string) (*engine.Snapshot, error)
	// UnreadTotal is the user's unread messages over all conversations.
	UnreadTotal(ctx context.Context, userID string) (int64, error)
}

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	// Queue bounds the committed batches waiting for their per-user
	// deliveries (default 64). When it is full OnCommit blocks: the
	// projector slows down rather than an event being lost.
	Queue int
	// OnRemoved runs (on the dispatcher's goroutine) when a user leaves a
	// conversation, so presence can let them go.
	OnRemoved func(ctx context.Context, conversationID, userID string)
	// Members, when set, answers who a conversation's participants are
	// without a read per batch.
	Members *engine.Members
	Logger  *slog.Logger
}

// Dispatcher turns committed events into hub messages. OnCommit, on the
// projector's goroutine, publishes each event on its conversation channel at
// once (non-blocking) and queues the batch; Run then publishes
// conversation.updated on the user channel of every participant someone on
// this node listens for, with their own counts (kept in memory: see
// unreadMemory), and the events on their inbox channel, in stream order.
// Participants nobody listens for cost nothing but a membership check.
type Dispatcher struct {
	hub       *Hub
	reader    SummaryReader
	members   *engine.Members
	queue     chan []rendered
	onRemoved func(ctx context.Context, conversationID, userID string)
	unread    *unreadMemory
	// stale says the memory of counts missed events (a batch not
	// delivered, a swapped read model): the next delivery forgets it all.
	stale  atomic.Bool
	logger *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
}

// rendered is an accepted event with its wire JSON, made once.
type rendered struct {
	ev      engine.Event
	data    json.RawMessage
	removed string // the user a participant.removed event removes
	target  string // the user a participant event adds or removes
}

// NewDispatcher returns a dispatcher; call Run to start its worker.
func NewDispatcher(hub *Hub, reader SummaryReader, cfg DispatcherConfig) *Dispatcher {
	if cfg.Queue <= 0 {
		cfg.Queue = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("component", "dispatcher")
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Dispatcher{hub: hub, reader: reader, members: cfg.Members, queue: make(chan []rendered, cfg.Queue),
		onRemoved: cfg.OnRemoved, unread: newUnreadMemory(), logger: cfg.Logger, ctx: ctx, cancel: cancel}
}

// OnCommit is the projector's hand-off: events are accepted and committed,
// in stream order. It publishes them on their conversation channels and
// queues the per-user work; it blocks only while the queue is full.
func (d *Dispatcher) OnCommit(events []engine.Event) {
	if d.hub.Connections() == 0 {
		// Nobody to deliver to. A client that connects later subscribes
		// after these events were committed: SSE replays them from the
		// checkpoint, sockets catch up with delta. The counts in memory
		// did not follow these events.
		d.stale.Store(true)
		return
	}
	batch := make([]rendered, 0, len(events))
	for _, ev := range events {
		data, err := engine.Marshal(engine.Wire(ev))
		if err != nil {
			d.logger.Error("render event", "seq", ev.Seq, "err", err)
			d.stale.Store(true)
			continue
		}
		r := rendered{ev: ev, data: data}
		if ev.Type.Private() {
			batch = append(batch, r) // its actor's conversation.updated only
			continue
		}
		d.hub.Publish(&Frame{Channel: engine.ConversationChannel(ev.ConversationID), Event: engine.RealtimeName(ev.Type), Data: data, Seq: ev.Seq})
		if ev.Type == engine.ParticipantRemoved || ev.Type == engine.ParticipantAdded {
			var pd engine.ParticipantData
			if json.Unmarshal(ev.Data, &pd) == nil && pd.UserID != "" {
				r.target = pd.UserID
				if ev.Type == engine.ParticipantRemoved {
					r.removed = pd.UserID
					// Nothing published after this event reaches the removed user.
					d.hub.UnsubscribeUser(pd.UserID, engine.ConversationChannel(ev.ConversationID))
				}
			}
		}
		batch = append(batch, r)
	}
	select {
	case d.queue <- batch:
	case <-d.ctx.Done():
	}
}

// Run delivers the queued batches until Close.
func (d *Dispatcher) Run() {
	for {
		select {
		case <-d.ctx.Done():
			return
		case batch := <-d.queue:
			d.deliver(d.ctx, batch)
		}
	}
}

// Reset makes the dispatcher forget the counts it keeps, as when the read
// model was replaced by a rebuild whose events it never saw.
func (d *Dispatcher) Reset() { d.stale.Store(true) }

// Close stops Run; batches still queued are not delivered per user (their
// conversation-channel messages went out already).
func (d *Dispatcher) Close() { d.cancel() }

// deliver publishes a batch's per-user messages.
func (d *Dispatcher) deliver(ctx context.Context, batch []rendered) {
	if d.stale.Swap(false) || d.hub.Connections() == 0 {
		clear(d.unread.users)
	}
	if d.hub.Connections() == 0 {
		return // nobody on this node to tell
	}
	// Who listens, per conversation; the memory follows every event before
	// the counts are read, so a count read now already holds the batch.
	heard := map[string][]string{}
	last := map[string]uint64{}
	var private []rendered
	for _, r := range batch {
		if r.ev.Type.Private() {
			d.unread.forgetConv(r.ev.ActorID, r.ev.ConversationID)
			private = append(private, r)
			continue
		}
		conv := r.ev.ConversationID
		last[conv] = r.ev.Seq
		hs, ok := heard[conv]
		if !ok {
			hs = d.heardMembers(ctx, conv)
			heard[conv] = hs
		}
		d.unread.apply(r.ev, hs, r.target)
	}
	// A private event changes its actor's view alone: their
	// conversation.updated, nobody else's.
	for _, r := range private {
		if d.heard(r.ev.ActorID) {
			d.publishUpdates(ctx, r.ev.ConversationID, []string{r.ev.ActorID}, r.ev.Seq)
		}
	}
	started := map[string][]string{}
	for _, r := range batch {
		if r.ev.Type.Private() {
			continue
		}
		conv := r.ev.ConversationID
		hs, ok := started[conv]
		if !ok {
			hs = d.publishUpdates(ctx, conv, heard[conv], last[conv])
			started[conv] = hs
		}
		name := engine.RealtimeName(r.ev.Type)
		for _, u := range hs {
			d.publishIfHeard(&Frame{Channel: engine.InboxChannel(u), Event: name, Data: r.data, Seq: r.ev.Seq})
		}
		if r.removed != "" {
			d.publishRemoval(ctx, r, name)
		}
	}
	if len(d.unread.users) > 2*d.hub.Connections()+64 {
		d.unread.prune(d.heard)
	}
}

// heard reports whether someone on this node listens for user's channels.
func (d *Dispatcher) heard(user string) bool {
	return d.hub.Has(engine.UserChannel(user)) || d.hub.Has(engine.InboxChannel(user))
}

// heardMembers lists the conversation's participants someone on this node
// listens for (their user or inbox channel).
func (d *Dispatcher) heardMembers(ctx context.Context, conv string) []string {
	ids, err := d.participantIDs(ctx, conv)
	if err != nil {
		if ctx.Err() == nil {
			d.logger.Error("participants", "conversation", conv, "err", err)
		}
		d.stale.Store(true) // this conversation's events reach nobody's counts
		return nil
	}
	var out []string
	for _, id := range ids {
		if d.heard(id) {
			out = append(out, id)
		} else if d.unread.users[id] != nil {
			d.unread.forget(id) // its counts would not follow this event
		}
	}
	return out
}

// participantIDs lists the conversation's participants, from Members when
// the dispatcher has it.
func (d *Dispatcher) participantIDs(ctx context.Context, conv string) ([]string, error) {
	if d.members == nil {
		return d.reader.ParticipantIDs(ctx, conv)
	}
	ms, err := d.members.Get(ctx, conv)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.UserID
	}
	return ids, nil
}

// publishUpdates sends conversation.updated to the listened-for
// participants, on their user channel and, ahead of the batch's events, on
// their inbox, and returns those it reached (still participants).
func (d *Dispatcher) publishUpdates(ctx context.Context, conv string, users []string, seq uint64) []string {
	if len(users) == 0 {
		return nil
	}
	base, err := d.reader.ConversationView(ctx, conv)
	if err != nil || base == nil {
		if err != nil && ctx.Err() == nil {
			d.logger.Error("conversation view", "conversation", conv, "err", err)
		}
		return nil
	}
	out := users[:0]
	for _, u := range users {
		s, total, ok, err := d.unread.counts(ctx, d.reader, base, u)
		if err != nil && ctx.Err() == nil {
			d.logger.Error("unread counts", "conversation", conv, "user", u, "err", err)
		}
		if !ok {
			continue
		}
		out = append(out, u)
		data, err := engine.Marshal(engine.ConversationUpdate{Conversation: s, Summary: engine.UserSummary{UnreadTotal: total}, Seq: seq})
		if err != nil {
			continue
		}
		d.hub.Publish(&Frame{Channel: engine.UserChannel(u), Event: engine.EventConversationUpdated, Data: data})
		d.hub.Publish(&Frame{Channel: engine.InboxChannel(u), Event: engine.EventConversationUpdated, Data: data})
	}
	return out
}

// publishRemoval tells a removed user, who is no longer among the
// participants, that they left, and lets presence release them.
func (d *Dispatcher) publishRemoval(ctx context.Context, r rendered, name string) {
	user := r.removed
	total, err := d.reader.UnreadTotal(ctx, user)
	if err != nil && ctx.Err() == nil {
		d.logger.Error("unread total", "user", user, "err", err)
	}
	data, err := engine.Marshal(engine.ConversationRemoval{ConversationID: r.ev.ConversationID, Summary: engine.UserSummary{UnreadTotal: total}, Seq: r.ev.Seq})
	if err == nil {
		d.publishIfHeard(&Frame{Channel: engine.UserChannel(user), Event: engine.EventConversationRemoved, Data: data})
		d.publishIfHeard(&Frame{Channel: engine.InboxChannel(user), Event: engine.EventConversationRemoved, Data: data})
	}
	d.publishIfHeard(&Frame{Channel: engine.InboxChannel(user), Event: name, Data: r.data, Seq: r.ev.Seq})
	if d.onRemoved != nil {
		d.onRemoved(ctx, r.ev.ConversationID, user)
	}
}

func (d *Dispatcher) publishIfHeard(m *Frame) {
	if d.hub.Has(m.Channel) {
		d.hub.Publish(m)
	}
}
