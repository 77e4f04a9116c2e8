package streams

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"parley/engine"
)

// slowJobs takes hold long over every job and remembers each attempt.
type slowJobs struct {
	hold     time.Duration
	mu       sync.Mutex
	attempts map[uint64][]int
}

func (h *slowJobs) Handle(ctx context.Context, ev engine.Event, attempt int) error {
	h.mu.Lock()
	h.attempts[ev.Seq] = append(h.attempts[ev.Seq], attempt)
	h.mu.Unlock()
	time.Sleep(h.hold) // the work itself
	return nil
}

func (h *slowJobs) Dead(context.Context, engine.Event, int, error) {}

// A job handed to a worker as soon as it is fetched is not marked in
// progress; one that waits for a busy worker longer than the ack wait is,
// while it waits and before its handling, and is never handed out again.
func TestWorkQueueMarksOnlyJobsThatWaited(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, err := Open(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Two workers, each job 3 s of work (within the handler's 80 % of the
	// ack wait), an ack wait of 5 s: the two jobs of the first fetch start
	// at once; the next fetch's two wait about 3 s for a worker and are
	// done about 6 s after their delivery, past the ack wait the server
	// would give them without the marks.
	h := &slowJobs{hold: 3 * time.Second, attempts: map[uint64][]int{}}
	q, err := conn.WorkQueue(ctx, WorkConfig{Stream: StreamName, Durable: "slow", FilterSubject: "conv.>",
		Workers: 2, AckWait: 5 * time.Second}, h)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 4 {
		ev, err := engine.NewEvent(engine.MessageSent, gcConv, "alice", at, engine.MessageSentData{Body: "b", ClientTempID: fmt.Sprint("w", i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := conn.Log().Append(ctx, ev, ""); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for q.Stats().Acked < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v: not every job was acknowledged", q.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	info, err := q.cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if info.Delivered.Consumer != 4 {
		t.Fatalf("the server made %d deliveries of 4 jobs", info.Delivered.Consumer)
	}
	if st := q.Stats(); st.Extended != 2 || st.Retried != 0 || st.Dead != 0 {
		t.Fatalf("stats %+v: want the two jobs that waited marked in progress, and nothing retried", st)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for seq, a := range h.attempts {
		if len(a) != 1 || a[0] != 1 {
			t.Fatalf("job %d was handled in attempts %v", seq, a)
		}
	}
	if len(h.attempts) != 4 {
		t.Fatalf("%d jobs handled, want 4", len(h.attempts))
	}
}
