package engine

import (
	"context"
	"strconv"
)

// MaxPins bounds the conversations one user may pin: they all lead the
// first page of the list.
const MaxPins = 10

// SettingsPatch changes some of a member's settings of a conversation.
type SettingsPatch struct {
	Muted    *bool `json:"muted"`
	Archived *bool `json:"archived"`
	Pinned   *bool `json:"pinned"`
}

// SettingsKey is a settings change's idempotency key: the member's next
// version and what it sets, so requests racing to make the same change
// append it once.
// joinedSeq names the membership: a member who left and came back starts
// counting versions again.
func SettingsKey(conversationID, userID string, joinedSeq, version uint64, p SettingsPatch) string {
	flag := func(b *bool) string {
		switch {
		case b == nil:
			return "-"
		case *b:
			return "1"
		}
		return "0"
	}
	return "settings:" + conversationID + ":" + userID + ":" + strconv.FormatUint(joinedSeq, 10) + ":" + strconv.FormatUint(version, 10) + ":" +
		flag(p.Muted) + flag(p.Archived) + flag(p.Pinned)
}

// UpdateSettings changes the caller's settings of a conversation and
// returns the conversation as they see it. Setting what is already set
// appends nothing.
func (s *Service) UpdateSettings(ctx context.Context, userID, conversationID string, p SettingsPatch) (*ConversationSummary, error) {
	if p.Muted == nil && p.Archived == nil && p.Pinned == nil {
		return nil, Errorf(KindInvalid, "settings_required", "give at least one of muted, archived, pinned")
	}
	member, err := s.participant(ctx, conversationID, userID)
	if err != nil {
		return nil, err
	}
	// A change applies only on top of the version it was made from; one
	// that lost a race is made again from the new state.
	for attempt := 0; attempt < 3; attempt++ {
		cur, last, err := s.store.Settings(ctx, conversationID, userID)
		if err != nil {
			return nil, err
		}
		if cur == nil {
			return nil, ErrConversationNotFound
		}
		d := ParticipantSettingsData{Version: cur.Version + 1}
		if p.Muted != nil && *p.Muted != cur.Muted {
			d.Muted = p.Muted
		}
		if p.Archived != nil && *p.Archived != cur.ArchivedAt(last) {
			d.Archived = p.Archived
		}
		if p.Pinned != nil && *p.Pinned != cur.Pinned {
			d.Pinned = p.Pinned
			if *p.Pinned {
				n, err := s.store.PinnedCount(ctx, userID)
				if err != nil {
					return nil, err
				}
				if n >= MaxPins {
					return nil, Errorf(KindConflict, "too_many_pins", "at most %d conversations can be pinned", MaxPins)
				}
			}
		}
		if d.Muted == nil && d.Archived == nil && d.Pinned == nil {
			break
		}
		ev, err := NewEvent(ParticipantSettings, conversationID, userID, s.now(), d)
		if err != nil {
			return nil, err
		}
		key := SettingsKey(conversationID, userID, member.JoinedSeq, d.Version, SettingsPatch{Muted: d.Muted, Archived: d.Archived, Pinned: d.Pinned})
		seq, _, err := s.appendAndWait(ctx, ev, key)
		if err != nil {
			return nil, err
		}
		if accepted, known := s.store.Outcome(seq); accepted || !known {
			break
		}
	}
	sum, err := s.summary(ctx, conversationID, userID)
	if err == nil && p.Pinned != nil && *p.Pinned && !sum.Pinned {
		return nil, Errorf(KindConflict, "too_many_pins", "at most %d conversations can be pinned", MaxPins)
	}
	return sum, err
}
