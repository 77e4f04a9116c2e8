package projections

import (
	"context"
	"fmt"
	"testing"
	"time"

	"parley/engine"
)

// BenchmarkInbox reads the first page (50) of the conversation list and the
// unread total of a user in 1,000 conversations, each with four unread
// messages, one of them deleted in every tenth conversation: what GET
// /api/conversations reads.
func BenchmarkInbox(b *testing.B) {
	ctx := context.Background()
	p := benchProjector(b)
	fillInbox(b, p)
	db := p.db
	b.Run("page", func(b *testing.B) {
		for range b.N {
			list, err := db.Conversations(ctx, "u0", 0, 50, false, false)
			if err != nil || len(list) != 50 || list[0].UnreadCount != 4 {
				b.Fatalf("conversations: %d, %v", len(list), err)
			}
		}
	})
	b.Run("total", func(b *testing.B) {
		for range b.N {
			total, err := db.UnreadTotal(ctx, "u0")
			if err != nil || total != 3900 {
				b.Fatalf("total %d, %v", total, err)
			}
		}
	})
}

// fillInbox gives u0 1,000 conversations with u1..u1000, each with four
// messages from the other member; in every tenth the first is deleted.
func fillInbox(b *testing.B, p *Projector) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var seq uint64
	var batch []engine.Event
	add := seqAdder(&seq, &batch)
	for k := range 1000 {
		conv, other := fmt.Sprintf("%026d", k), fmt.Sprint("u", k+1)
		ev, _ := engine.NewEvent(engine.ConversationCreated, conv, "u0", at,
			engine.ConversationCreatedData{Kind: engine.KindGroup, ParticipantIDs: []string{"u0", other}})
		add(ev)
		var first string
		for i := range 4 {
			ev, _ := engine.NewEvent(engine.MessageSent, conv, other, at, engine.MessageSentData{Body: "hello", ClientTempID: fmt.Sprint("t", i)})
			add(ev)
			if i == 0 {
				first = ev.ID.String()
			}
		}
		if k%10 == 0 {
			ev, _ = engine.NewEvent(engine.MessageDeleted, conv, other, at, engine.MessageDeletedData{MessageID: first})
			add(ev)
		}
	}
	if err := p.ApplyBatch(context.Background(), batch); err != nil {
		b.Fatal(err)
	}
}
