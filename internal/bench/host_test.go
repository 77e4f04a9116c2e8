package bench

import (
	"strings"
	"testing"
)

func TestHostStealShare(t *testing.T) {
	a := parseHostCPU("cpu  100 0 50 800 10 0 5 35 7 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
	b := parseHostCPU("cpu  200 0 100 1000 10 0 5 85 9 0\n")
	if a != (hostCPU{total: 1000, steal: 35}) || b != (hostCPU{total: 1400, steal: 85}) {
		t.Fatalf("parsed %+v and %+v", a, b)
	}
	if p := stealPct(a, b); p == nil || *p != 12.5 {
		t.Fatalf("steal share = %v, want 12.5", p)
	}
	for _, bad := range []string{"", "intr 1 2 3", "cpu 1 2 3", "cpu 1 2 3 4 5 6 7 x"} {
		if h := parseHostCPU(bad); h != (hostCPU{}) {
			t.Fatalf("parseHostCPU(%q) = %+v", bad, h)
		}
	}
	if p := stealPct(hostCPU{}, b); p != nil {
		t.Fatalf("a share from an unread start: %v", *p)
	}
	if p := stealPct(b, b); p != nil {
		t.Fatalf("a share of an empty window: %v", *p)
	}
}

func TestSentTempID(t *testing.T) {
	for _, c := range []struct {
		frame, want string
		ok          bool
	}{
		{`{"event":"message.sent","channel":"private-conversation.01K","data":"{\"id\":\"01M\",\"data\":{\"body\":\"hi\",\"client_temp_id\":\"fan-1-7\"}}"}`, "fan-1-7", true},
		{`{"event":"message.read","channel":"private-conversation.01K","data":"{\"client_temp_id\":\"x\"}"}`, "", false},
		{`{"event":"pusher:ping","data":"{}"}`, "", false},
		{`{"event":"message.sent","data":"{}"}`, "", false},
		{`{"channel":"c","event":"message.sent","data":"{\"client_temp_id\":\"y\"}"}`, "", false}, // another order: decoded
	} {
		got, ok := sentTempID([]byte(c.frame))
		if got != c.want || ok != c.ok {
			t.Errorf("sentTempID(%s) = %q, %v; want %q, %v", c.frame, got, ok, c.want, c.ok)
		}
	}
}

// Where /proc is missing, bench says which figures it leaves out.
func TestProcNoteSaysWhatIsLeftOut(t *testing.T) {
	if n := procNote("linux"); n != "" {
		t.Errorf("on linux: %q, want no note", n)
	}
	for _, goos := range []string{"windows", "darwin"} {
		if n := procNote(goos); !strings.Contains(n, goos) || !strings.Contains(n, "/proc") || !strings.Contains(n, "CPU") {
			t.Errorf("on %s: %q", goos, n)
		}
	}
}
