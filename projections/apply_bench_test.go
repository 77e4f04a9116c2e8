package projections

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"parley/engine"
)

// BenchmarkApplyBatch applies batches of 1,000 events (sends with a read
// marker every tenth event) over 100 conversations of five, as the projector
// does under load; it reports events/s.
func BenchmarkApplyBatch(b *testing.B) {
	ctx := context.Background()
	p := benchProjector(b)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var seq uint64
	var batch []engine.Event
	add := seqAdder(&seq, &batch)
	for k := range 100 {
		ev, _ := engine.NewEvent(engine.ConversationCreated, fmt.Sprintf("%026d", k), "u0", at,
			engine.ConversationCreatedData{Kind: engine.KindGroup, ParticipantIDs: []string{"u0", "u1", "u2", "u3", "u4"}})
		add(ev)
	}
	if err := p.ApplyBatch(ctx, batch); err != nil {
		b.Fatal(err)
	}
	last := map[int]string{}
	b.ResetTimer()
	for i := 0; i < b.N; {
		batch = batch[:0]
		for j := 0; j < 1000 && i < b.N; j, i = j+1, i+1 {
			k := i % 100
			conv := fmt.Sprintf("%026d", k)
			var ev engine.Event
			if i%10 == 9 && last[k] != "" {
				ev, _ = engine.NewEvent(engine.ConversationRead, conv, fmt.Sprint("u", i%5), at, engine.ConversationReadData{MessageID: last[k]})
			} else {
				ev, _ = engine.NewEvent(engine.MessageSent, conv, fmt.Sprint("u", i%5), at, engine.MessageSentData{Body: "hello", ClientTempID: fmt.Sprint("t", i)})
				last[k] = ev.ID.String()
			}
			add(ev)
		}
		if err := p.ApplyBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkApplySmallBatches applies batches of 8 sends over 100
// conversations of ten, as the projector sees a fanout load (8 closed-loop
// senders); it reports events/s.
func BenchmarkApplySmallBatches(b *testing.B) {
	ctx := context.Background()
	p := benchProjector(b)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	members := make([]string, 10)
	for i := range members {
		members[i] = fmt.Sprint("u", i)
	}
	var seq uint64
	var batch []engine.Event
	add := seqAdder(&seq, &batch)
	for k := range 100 {
		ev, _ := engine.NewEvent(engine.ConversationCreated, fmt.Sprintf("%026d", k), "u0", at,
			engine.ConversationCreatedData{Kind: engine.KindGroup, ParticipantIDs: members})
		add(ev)
	}
	if err := p.ApplyBatch(ctx, batch); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; {
		batch = batch[:0]
		for j := 0; j < 8 && i < b.N; j, i = j+1, i+1 {
			ev, _ := engine.NewEvent(engine.MessageSent, fmt.Sprintf("%026d", (i*37)%100), members[i%10], at,
				engine.MessageSentData{Body: "hello", ClientTempID: fmt.Sprint("t", i)})
			add(ev)
		}
		if err := p.ApplyBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// benchProjector is a projector over a bulk database in a temp dir, closed
// when the benchmark ends.
func benchProjector(b *testing.B) *Projector {
	db, err := OpenBulk(context.Background(), filepath.Join(b.TempDir(), "a.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	p := NewProjector(db, nil, ProjectorConfig{BatchMax: 1000})
	b.Cleanup(p.cache.close)
	return p
}

// seqAdder returns a func that numbers an event with the next sequence and
// appends it to the batch.
func seqAdder(seq *uint64, batch *[]engine.Event) func(engine.Event) {
	return func(ev engine.Event) {
		*seq++
		ev.Seq = *seq
		*batch = append(*batch, ev)
	}
}
