package e2e_test

import (
	"strings"
	"testing"

	"parley/internal/node"
)

// A cache channel replays the last event triggered on it, whatever its size
// within --app-max-data: never an older one that a larger event replaced.
func TestPusherCacheLargeEvent(t *testing.T) {
	env := rtStart(t, func(c *node.Config) { c.AppID = rtAppID; c.AppMaxData = 200 << 10 })
	for _, data := range []string{"first", strings.Repeat("x", 100<<10)} {
		if r := pusherTrigger(t, env, rtApp, map[string]any{"name": "e", "data": data, "channel": "cache-big"}); r.Status != 200 {
			t.Fatalf("trigger %d bytes: %d %s", len(data), r.Status, r.Body)
		}
	}
	s := rtDial(t, env)
	rtPublic(t, s, "cache-big")
	f := s.nextWhere("", func(f rtFrame) bool {
		return f.Channel == "cache-big" && (f.Event == "e" || f.Event == "pusher:cache_miss")
	})
	if f.Event != "e" || len(f.Data) != 100<<10 {
		t.Fatalf("cache-big replays %s with %d bytes of data (%.10q), want the last event's 102400", f.Event, len(f.Data), f.Data)
	}
}
