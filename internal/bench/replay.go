package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"

	"parley/engine"
	"parley/internal/node"
	"parley/streams"
)

// typicalMix generates a log's worth of events for conversations owned by
// one worker: 80 % sends, 15 % read markers, 5 % membership changes and
// edits, in an order that is valid per conversation.
type typicalMix struct {
	rng   *rand.Rand
	convs []*mixConv
	at    time.Time
}

type mixConv struct {
	id      string
	members []string
	last    string // the newest message id
	created bool
}

const mixMembers = 5

func newTypicalMix(worker, workers, convs int) *typicalMix {
	g := &typicalMix{rng: rand.New(rand.NewPCG(uint64(worker), 7)), at: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for i := worker; i < convs; i += workers {
		c := &mixConv{id: fmt.Sprintf("%026d", i)}
		for m := range mixMembers {
			c.members = append(c.members, fmt.Sprint("u", (i+m)%500))
		}
		g.convs = append(g.convs, c)
	}
	return g
}

// next returns the generator's next event.
func (g *typicalMix) next(n int) engine.Event {
	c := g.convs[g.rng.IntN(len(g.convs))]
	var ev engine.Event
	if !c.created {
		c.created = true
		ev, _ = engine.NewEvent(engine.ConversationCreated, c.id, c.members[0], g.at,
			engine.ConversationCreatedData{Kind: engine.KindGroup, Title: "bench", ParticipantIDs: c.members})
		return ev
	}
	actor := c.members[g.rng.IntN(mixMembers)]
	switch p := g.rng.IntN(100); {
	case p < 80 || c.last == "":
		ev, _ = engine.NewEvent(engine.MessageSent, c.id, actor, g.at, engine.MessageSentData{Body: body200, ClientTempID: fmt.Sprint("t", n)})
		c.last = ev.ID.String()
	case p < 95:
		ev, _ = engine.NewEvent(engine.ConversationRead, c.id, actor, g.at, engine.ConversationReadData{MessageID: c.last})
	case p < 97:
		ev, _ = engine.NewEvent(engine.ParticipantAdded, c.id, actor, g.at, engine.ParticipantData{UserID: fmt.Sprint("x", g.rng.IntN(1000))})
	default:
		ev, _ = engine.NewEvent(engine.MessageEdited, c.id, actor, g.at, engine.MessageEditedData{MessageID: c.last, Body: "edited"})
	}
	return ev
}

// fillLog appends n typical events with several workers (each owning its
// conversations, so every conversation's order is valid).
func fillLog(ctx context.Context, log *streams.Log, n int) error {
	const workers, convs = 8, 1000
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := newTypicalMix(w, workers, convs)
			batch := make([]engine.Event, 0, 500)
			for i := w; i < n; i += workers {
				batch = append(batch, g.next(i))
				if len(batch) == cap(batch) || i+workers >= n {
					if err := log.AppendAsync(ctx, batch, 500); err != nil {
						errs <- err
						return
					}
					batch = batch[:0]
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// benchReplay fills a server's log with c.Events typical events (through
// the data dir's NATS port) and times `parley replay` rebuilding from it.
func benchReplay(ctx context.Context, c benchConfig, stderr io.Writer) ([]Result, error) {
	// Replay measures the read models' rebuild: the server that owns the
	// log runs without the notifications queue, and the timing starts once
	// its own projector has caught up, so the two do not share the cores.
	c.serveArgs = append(c.serveArgs, "--notifications=false")
	s, err := startBenchServer(ctx, c, stderr)
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	if s.DataDir == "" {
		return nil, fmt.Errorf("replay needs the server's data dir (--data)")
	}
	conn, err := streams.Open(ctx, streams.Config{URL: node.ToolURL(s.DataDir), Existing: true, NoReconnect: true})
	if err != nil {
		return nil, fmt.Errorf("reach the server's log: %w", err)
	}
	first, _, err := conn.Log().Bounds(ctx)
	if err != nil {
		conn.Close()
		return nil, err
	}
	err = fillLog(ctx, conn.Log(), c.Events)
	_, last, berr := conn.Log().Bounds(ctx)
	conn.Close()
	if err != nil || berr != nil {
		return nil, fmt.Errorf("fill the log: %w", errors.Join(err, berr))
	}
	if err := s.waitCaughtUp(ctx, last, 10*time.Minute); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "parley-replay-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, exe, "replay", "--data", s.DataDir, "--out", filepath.Join(tmp, "rebuilt.db"))
	var out bytes.Buffer // its progress lines and summary: a few KiB
	cmd.Stdout, cmd.Stderr = &out, stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("parley replay: %w", err)
	}
	elapsed := time.Since(start)
	events := last - min(first, last) + 1
	r := Result{Workload: "replay", EventsPerS: float64(events) / elapsed.Seconds(),
		Params: map[string]any{"events": events, "mix": "80% sends, 15% reads, 5% membership/edits", "conversations": 1000},
		Extra:  map[string]any{"seconds": elapsed.Seconds()}}
	// The replay's own peak memory, as it reports it.
	if m := peakRSSLine.FindSubmatch(out.Bytes()); m != nil {
		mib, _ := strconv.Atoi(string(m[1]))
		r.Extra["peak_rss_mib"] = mib
	}
	return []Result{r}, nil
}

// peakRSSLine finds the peak memory in parley replay's summary line.
var peakRSSLine = regexp.MustCompile(`peak RSS (\d+) MiB`)
