package pusher

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"
)

// countingConn records each Write the batch sends through, and the write
// deadline each was sent under.
type countingConn struct {
	net.Conn
	writes    [][]byte
	deadline  time.Time
	deadlines []time.Time
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, bytes.Clone(p))
	c.deadlines = append(c.deadlines, c.deadline)
	return len(p), nil
}

func (c *countingConn) SetWriteDeadline(t time.Time) error {
	c.deadline = t
	return nil
}

// A batch is sent under the deadline its end gives, whatever deadline a
// write inside it (a pong, with its 1 s) set meanwhile.
func TestBatchConnEndSetsItsDeadline(t *testing.T) {
	inner := &countingConn{}
	c := &batchConn{Conn: inner}
	c.begin()
	c.Write([]byte("frame"))
	pong := time.Now().Add(time.Second)
	c.SetWriteDeadline(pong)
	c.Write([]byte("pong"))
	flush := time.Now().Add(10 * time.Second)
	if err := c.end(flush); err != nil {
		t.Fatal(err)
	}
	if len(inner.writes) != 1 || !inner.deadlines[0].Equal(flush) {
		t.Fatalf("batch sent in %d writes under %v, want one under the flush's %v", len(inner.writes), inner.deadlines, flush)
	}
}

// Writes in a batch leave together at its end, in order; outside a batch
// each goes at once; a batch that would outgrow wsBatchMax sends what it
// holds first, and a write larger than that goes on its own.
func TestBatchConnHoldsWritesUntilEnd(t *testing.T) {
	inner := &countingConn{}
	c := &batchConn{Conn: inner}
	c.Write([]byte("a"))
	if len(inner.writes) != 1 {
		t.Fatalf("outside a batch: %d writes, want 1", len(inner.writes))
	}
	c.begin()
	c.Write([]byte("b"))
	c.Write([]byte("c"))
	c.Write([]byte("d"))
	if len(inner.writes) != 1 {
		t.Fatalf("inside a batch: %d writes went out, want none yet", len(inner.writes)-1)
	}
	if err := c.end(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if len(inner.writes) != 2 || string(inner.writes[1]) != "bcd" {
		t.Fatalf("after end: %q", inner.writes)
	}
	if err := c.end(time.Time{}); err != nil || len(inner.writes) != 2 {
		t.Fatalf("a second end wrote again: %q (%v)", inner.writes, err)
	}

	inner.writes = nil
	big := strings.Repeat("x", wsBatchMax-10)
	c.begin()
	c.Write([]byte(big))
	c.Write([]byte("0123456789AB")) // does not fit: the held bytes go first
	c.Write([]byte(strings.Repeat("y", wsBatchMax+1)))
	c.Write([]byte("z"))
	c.end(time.Time{})
	var got []int
	for _, w := range inner.writes {
		got = append(got, len(w))
	}
	if len(inner.writes) != 4 || string(inner.writes[0]) != big || string(inner.writes[1]) != "0123456789AB" ||
		len(inner.writes[2]) != wsBatchMax+1 || string(inner.writes[3]) != "z" {
		t.Fatalf("write sizes: %v", got)
	}
}
