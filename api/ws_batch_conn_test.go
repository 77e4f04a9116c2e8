package api

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

// countingConn records each Write the batch sends through.
type countingConn struct {
	net.Conn
	writes [][]byte
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
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
	if err := c.end(); err != nil {
		t.Fatal(err)
	}
	if len(inner.writes) != 2 || string(inner.writes[1]) != "bcd" {
		t.Fatalf("after end: %q", inner.writes)
	}
	if err := c.end(); err != nil || len(inner.writes) != 2 {
		t.Fatalf("a second end wrote again: %q (%v)", inner.writes, err)
	}

	inner.writes = nil
	big := strings.Repeat("x", wsBatchMax-10)
	c.begin()
	c.Write([]byte(big))
	c.Write([]byte("0123456789AB")) // does not fit: the held bytes go first
	c.Write([]byte(strings.Repeat("y", wsBatchMax+1)))
	c.Write([]byte("z"))
	c.end()
	var got []int
	for _, w := range inner.writes {
		got = append(got, len(w))
	}
	if len(inner.writes) != 4 || string(inner.writes[0]) != big || string(inner.writes[1]) != "0123456789AB" ||
		len(inner.writes[2]) != wsBatchMax+1 || string(inner.writes[3]) != "z" {
		t.Fatalf("write sizes: %v", got)
	}
}
