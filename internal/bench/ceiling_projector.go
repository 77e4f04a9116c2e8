package bench

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"time"

	"parley/engine"
	"parley/projections"
)

// ceilingProjector applies n message.sent events through the projector into
// a read-model file opened as parley serve opens it (WAL, its background
// checkpoints), c.CeilingBatch events per transaction, with the checkpoint
// in each: what the read model costs per send at the batch size the live
// projector commits under the send workload, with nothing else running.
// Like the send workload, it sends into c.Convs (--conversations) direct
// conversations, each message from one member. The search index is not
// built (the live projector builds it beside the batches).
func ceilingProjector(ctx context.Context, c benchConfig, path string, n int) (Result, error) {
	db, err := projections.Open(ctx, path)
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	p := projections.NewProjector(db, nil, projections.ProjectorConfig{})
	at := time.Now().UTC()
	convs := max(1, c.Convs)
	var seq uint64
	var made error
	next := func(ev engine.Event, err error) engine.Event {
		seq++
		ev.Seq = seq
		made = cmp.Or(made, err)
		return ev
	}
	setup := make([]engine.Event, 0, convs)
	for k := range convs {
		setup = append(setup, next(engine.NewEvent(engine.ConversationCreated, fmt.Sprintf("%026d", k), fmt.Sprint("a", k), at,
			engine.ConversationCreatedData{Kind: engine.KindDirect, DirectKey: fmt.Sprint("a", k, "|b", k), ParticipantIDs: []string{fmt.Sprint("a", k), fmt.Sprint("b", k)}})))
	}
	evs := make([]engine.Event, n)
	for i := range evs {
		k := i % convs
		evs[i] = next(engine.NewEvent(engine.MessageSent, fmt.Sprintf("%026d", k), fmt.Sprint("a", k), at.Add(time.Duration(i)*time.Microsecond),
			engine.MessageSentData{Body: body200, ClientTempID: fmt.Sprint("p", i)}))
	}
	if made != nil {
		return Result{}, fmt.Errorf("projector ceiling: %w", made)
	}
	if err := p.ApplyBatch(ctx, setup); err != nil {
		return Result{}, fmt.Errorf("projector ceiling: %w", err)
	}
	batch := max(1, c.CeilingBatch)
	self := os.Getpid()
	cpu0, start := procCPU(self), time.Now()
	for i := 0; i < n; i += batch {
		if err := p.ApplyBatch(ctx, evs[i:min(n, i+batch)]); err != nil {
			return Result{}, fmt.Errorf("projector ceiling: %w", err)
		}
	}
	d, cpu := time.Since(start), procCPU(self)-cpu0
	if got := db.Applied(); got != seq {
		return Result{}, fmt.Errorf("projector ceiling: applied %d of %d events", got, seq)
	}
	if accepted, known := db.Outcome(seq); !known || !accepted {
		return Result{}, fmt.Errorf("projector ceiling: the last send was not stored")
	}
	return Result{Workload: "ceiling", EventsPerS: float64(n) / d.Seconds(),
		Extra:  map[string]any{"process_cpu_us_per_msg": float64(cpu) / float64(time.Microsecond) / float64(n)},
		Params: map[string]any{"what": "projector_apply", "per_transaction": batch, "messages": n, "conversations": convs}}, nil
}
