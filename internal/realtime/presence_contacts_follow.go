package realtime

import (
	"context"
	"encoding/json"
	"time"

	"parley/engine"
)

// Contact sets follow membership: the projector hands every committed batch
// to OnCommit, which queues the membership changes; one goroutine then
// reads again the contact sets of the local users they touch and announces
// the difference (member_added for a new contact online, member_removed
// for one no conversation links any more). A user touched by a change is
// its subject or a participant of its conversation, so reading the
// participants after the commit finds every local user whose contacts
// moved (one removed since was the subject of a later change, followed in
// turn).

// maxFollowQueue bounds the membership changes waiting to be followed; past
// it they are dropped and every local user's contacts are read again.
const maxFollowQueue = 4096

// OnCommit takes the projector's committed events (in stream order) and
// queues the membership changes among them (conversation.created,
// participant.added, participant.removed) for the contact sets of local
// presence-messaging members. It never blocks, and costs nothing when
// presence is not scoped or nobody on this node is on the channel.
func (p *Presence) OnCommit(events []engine.Event) {
	s := p.scope
	if s == nil || s.active.Load() == 0 {
		// A join that starts after this reads its contacts after the
		// commit, so it cannot miss it.
		return
	}
	n := 0
	for _, ev := range events {
		if changesContacts(ev.Type) {
			n++
		}
	}
	if n == 0 {
		return
	}
	s.qmu.Lock()
	switch {
	case s.resync:
	case len(s.queue)+n > maxFollowQueue:
		s.queue, s.resync = nil, true
	default:
		for _, ev := range events {
			if changesContacts(ev.Type) {
				s.queue = append(s.queue, ev)
			}
		}
	}
	s.qmu.Unlock()
	s.signal()
}

// changesContacts reports whether an event of type t can change who shares
// a conversation with whom.
func changesContacts(t engine.EventType) bool {
	switch t {
	case engine.ConversationCreated, engine.ParticipantAdded, engine.ParticipantRemoved:
		return true
	}
	return false
}

// follow queues events and users whose contacts must be read again.
func (s *contactScope) follow(events []engine.Event, users ...string) {
	s.qmu.Lock()
	s.queue = append(s.queue, events...)
	s.reload = append(s.reload, users...)
	s.qmu.Unlock()
	s.signal()
}

func (s *contactScope) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// followContacts applies the queued membership changes until ctx ends.
func (p *Presence) followContacts(ctx context.Context) {
	s := p.scope
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		s.qmu.Lock()
		events, users, resync := s.queue, s.reload, s.resync
		s.queue, s.reload, s.resync = nil, nil, false
		s.qmu.Unlock()
		touched := map[string]struct{}{}
		for _, u := range users {
			touched[u] = struct{}{}
		}
		failed := false
		for i, ev := range events {
			if err := s.touched(ctx, ev, touched); err != nil {
				if ctx.Err() != nil {
					return
				}
				s.logger.Warn("presence contacts: membership change not followed yet; retrying", "conversation", ev.ConversationID, "err", err)
				s.follow(events[i:])
				failed = true
				break
			}
		}
		if !p.reloadContacts(ctx, touched, resync) {
			failed = true // the users it missed are queued again
		}
		if failed {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}

// touched adds to set the users whose contacts ev may have changed: its
// subject and the conversation's participants.
func (s *contactScope) touched(ctx context.Context, ev engine.Event, set map[string]struct{}) error {
	switch ev.Type {
	case engine.ConversationCreated:
		var d engine.ConversationCreatedData
		if json.Unmarshal(ev.Data, &d) == nil {
			set[ev.ActorID] = struct{}{}
			for _, id := range d.ParticipantIDs {
				set[id] = struct{}{}
			}
			return nil // all its participants are in the event
		}
	case engine.ParticipantAdded, engine.ParticipantRemoved:
		var d engine.ParticipantData
		if json.Unmarshal(ev.Data, &d) == nil && d.UserID != "" {
			set[d.UserID] = struct{}{}
		}
	}
	ids, err := s.participants(ctx, ev.ConversationID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		set[id] = struct{}{}
	}
	return nil
}

// participants lists a conversation's participants, from Members when set.
func (s *contactScope) participants(ctx context.Context, conv string) ([]string, error) {
	if s.members == nil {
		return s.reader.ParticipantIDs(ctx, conv)
	}
	ms, err := s.members.Get(ctx, conv)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.UserID
	}
	return ids, nil
}

// reloadContacts reads again the contacts of the local users in touched
// (every local user with all) and applies them; a join of theirs in
// progress is marked to read them again once registered. It reports false when
// a read failed (the users it missed are queued again).
func (p *Presence) reloadContacts(ctx context.Context, touched map[string]struct{}, all bool) bool {
	s := p.scope
	p.mu.Lock()
	var todo []string
	if all {
		for id := range s.users {
			todo = append(todo, id)
		}
		for _, ld := range s.loading {
			ld.stale = true
		}
	} else {
		for id := range touched {
			if s.users[id] != nil {
				todo = append(todo, id)
			}
			if ld := s.loading[id]; ld != nil {
				ld.stale = true
			}
		}
	}
	p.mu.Unlock()
	for i, id := range todo {
		ids, err := s.read(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return true
			}
			s.logger.Warn("presence contacts: read failed; retrying", "user", id, "err", err)
			s.follow(nil, todo[i:]...)
			return false
		}
		p.mu.Lock()
		if u := s.users[id]; u != nil {
			p.setContacts(u, ids)
		}
		p.mu.Unlock()
	}
	return true
}
