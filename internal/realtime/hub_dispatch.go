package realtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"parley/engine"
)

// ParticipantSummary is one participant's view of a conversation and their
// unread total: what their conversation.updated carries.
type ParticipantSummary struct {
	UserID       string
	Conversation engine.ConversationSummary
	UnreadTotal  int64
}

// SummaryReader reads what conversation.updated needs. projections.DB is one.
type SummaryReader interface {
	// ParticipantIDs lists the conversation's participants.
	ParticipantIDs(ctx context.Context, conversationID string) ([]string, error)
	// ParticipantSummaries returns every participant's summary of the
	// conversation (bounded by the participant limit).
	ParticipantSummaries(ctx context.Context, conversationID string) ([]ParticipantSummary, error)
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
// once (non-blocking) and queues the batch; Run then reads every
// participant's summary and publishes conversation.updated on their user
// channel and the events on their inbox channel, in stream order.
type Dispatcher struct {
	hub       *Hub
	reader    SummaryReader
	members   *engine.Members
	queue     chan []rendered
	onRemoved func(ctx context.Context, conversationID, userID string)
	logger    *slog.Logger
	ctx       context.Context
	cancel    context.CancelFunc
}

// rendered is an accepted event with its wire JSON, made once.
type rendered struct {
	ev      engine.Event
	data    json.RawMessage
	removed string // the user a participant.removed event removes
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
		onRemoved: cfg.OnRemoved, logger: cfg.Logger, ctx: ctx, cancel: cancel}
}

// OnCommit is the projector's hand-off: events are accepted and committed,
// in stream order. It publishes them on their conversation channels and
// queues the per-user work; it blocks only while the queue is full.
func (d *Dispatcher) OnCommit(events []engine.Event) {
	if d.hub.Connections() == 0 {
		// Nobody to deliver to. A client that connects later subscribes
		// after these events were committed: SSE replays them from the
		// checkpoint, sockets catch up with delta.
		return
	}
	batch := make([]rendered, 0, len(events))
	for _, ev := range events {
		data, err := engine.Marshal(engine.Wire(ev))
		if err != nil {
			d.logger.Error("render event", "seq", ev.Seq, "err", err)
			continue
		}
		r := rendered{ev: ev, data: data}
		d.hub.Publish(&Frame{Channel: engine.ConversationChannel(ev.ConversationID), Event: engine.RealtimeName(ev.Type), Data: data, Seq: ev.Seq})
		if ev.Type == engine.ParticipantRemoved {
			var pd engine.ParticipantData
			if json.Unmarshal(ev.Data, &pd) == nil && pd.UserID != "" {
				r.removed = pd.UserID
				// Nothing published after this event reaches the removed user.
				d.hub.UnsubscribeUser(pd.UserID, engine.ConversationChannel(ev.ConversationID))
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

// Close stops Run; batches still queued are not delivered per user (their
// conversation-channel messages went out already).
func (d *Dispatcher) Close() { d.cancel() }

// deliver publishes a batch's per-user messages.
func (d *Dispatcher) deliver(ctx context.Context, batch []rendered) {
	if d.hub.Connections() == 0 {
		return // nobody on this node to tell; spare the summary queries
	}
	sums := map[string][]ParticipantSummary{}
	last := map[string]uint64{}
	for _, r := range batch {
		conv := r.ev.ConversationID
		last[conv] = r.ev.Seq
		if _, ok := sums[conv]; !ok {
			sums[conv] = d.summaries(ctx, conv)
		}
	}
	started := map[string]bool{}
	for _, r := range batch {
		conv := r.ev.ConversationID
		ps := sums[conv]
		if !started[conv] {
			started[conv] = true
			d.publishUpdates(ps, last[conv])
		}
		name := engine.RealtimeName(r.ev.Type)
		for _, p := range ps {
			d.publishIfHeard(&Frame{Channel: engine.InboxChannel(p.UserID), Event: name, Data: r.data, Seq: r.ev.Seq})
		}
		if r.removed != "" {
			d.publishRemoval(ctx, r, name)
		}
	}
}

// summaries returns the summaries of the participants someone on this node
// listens for (their user or inbox channel); the full query runs only when
// there is one.
func (d *Dispatcher) summaries(ctx context.Context, conv string) []ParticipantSummary {
	ids, err := d.participantIDs(ctx, conv)
	if err != nil {
		if ctx.Err() == nil {
			d.logger.Error("participants", "conversation", conv, "err", err)
		}
		return nil
	}
	heard := map[string]bool{}
	for _, id := range ids {
		if d.hub.Has(engine.UserChannel(id)) || d.hub.Has(engine.InboxChannel(id)) {
			heard[id] = true
		}
	}
	if len(heard) == 0 {
		return nil
	}
	ps, err := d.reader.ParticipantSummaries(ctx, conv)
	if err != nil {
		if ctx.Err() == nil {
			d.logger.Error("participant summaries", "conversation", conv, "err", err)
		}
		return nil
	}
	out := ps[:0]
	for _, p := range ps {
		if heard[p.UserID] {
			out = append(out, p)
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

// publishUpdates sends conversation.updated to every participant, on their
// user channel and, ahead of the batch's events, on their inbox.
func (d *Dispatcher) publishUpdates(ps []ParticipantSummary, seq uint64) {
	for _, p := range ps {
		user, inbox := engine.UserChannel(p.UserID), engine.InboxChannel(p.UserID)
		if !d.hub.Has(user) && !d.hub.Has(inbox) {
			continue
		}
		data, err := engine.Marshal(engine.ConversationUpdate{Conversation: p.Conversation, Summary: engine.UserSummary{UnreadTotal: p.UnreadTotal}, Seq: seq})
		if err != nil {
			continue
		}
		d.hub.Publish(&Frame{Channel: user, Event: engine.EventConversationUpdated, Data: data})
		d.hub.Publish(&Frame{Channel: inbox, Event: engine.EventConversationUpdated, Data: data})
	}
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
