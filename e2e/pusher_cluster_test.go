package e2e_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"

	"parley/internal/node"
	"parley/internal/testkit"
)

// rtJoin subscribes a socket to an application presence channel as userID,
// signed with the app secret as the application's auth endpoint would, and
// returns the member ids of subscription_succeeded.
func rtJoin(t testing.TB, s *rtSocket, app pusherApp, channel string, userID int) []string {
	t.Helper()
	cd := fmt.Sprintf(`{"user_id":%d,"user_info":{"name":"u%d"}}`, userID, userID)
	mac := hmac.New(sha256.New, []byte(app.secret))
	mac.Write([]byte(s.socketID + ":" + channel + ":" + cd))
	s.send("pusher:subscribe", "", map[string]string{"channel": channel, "auth": app.key + ":" + hex.EncodeToString(mac.Sum(nil)), "channel_data": cd})
	f := s.nextWhere("pusher_internal:subscription_succeeded", func(f rtFrame) bool { return f.Channel == channel })
	var p struct {
		Presence struct {
			IDs []string `json:"ids"`
		} `json:"presence"`
	}
	f.decode(t, &p)
	return p.Presence.IDs
}

// rtPublic subscribes a socket to a public channel.
func rtPublic(t testing.TB, s *rtSocket, channel string) {
	t.Helper()
	s.send("pusher:subscribe", "", map[string]string{"channel": channel})
	s.nextWhere("pusher_internal:subscription_succeeded", func(f rtFrame) bool { return f.Channel == channel })
}

// Two nodes sharing one NATS: an event published through either node's
// HTTP API reaches the sockets of both, presence member lists and channel
// counts agree on both, and a cache channel's last event is cluster-wide.
func TestPusherTwoNodes(t *testing.T) {
	a := rtStart(t, func(c *node.Config) { c.AppID = rtAppID })
	b := rtStart(t, func(c *node.Config) { c.AppID = rtAppID; c.NATSURL = node.ToolURL(a.Config.DataDir) })
	sa, sb := rtDial(t, a), rtDial(t, b)
	rtPublic(t, sa, "news")
	rtPublic(t, sb, "news")
	rtJoin(t, sa, rtApp, "presence-room", 1)
	// Node b learns of user 1 through its watcher, a moment after node a
	// acknowledged the join; a joiner on b before that gets member_added.
	testkit.WaitFor(t, rtWait, "node b lists user 1", func() bool {
		var users struct{ Users []struct{ ID string } }
		_ = json.Unmarshal(pusherDo(t, b, rtApp, pusherReq{method: "GET", path: "/apps/" + rtAppID + "/channels/presence-room/users"}).Body, &users)
		return len(users.Users) == 1 && users.Users[0].ID == "1"
	})
	if ids := rtJoin(t, sb, rtApp, "presence-room", 2); !slices.Equal(ids, []string{"1", "2"}) {
		t.Errorf("the second node's joiner sees members %v, want [1 2]", ids)
	}
	sa.nextWhere("pusher_internal:member_added", func(f rtFrame) bool { return f.Channel == "presence-room" })

	for i, env := range []*testkit.Env{a, b} {
		name := fmt.Sprintf("from-node-%d", i)
		if r := pusherTrigger(t, env, rtApp, map[string]any{"name": name, "data": `{"n":1}`, "channel": "news"}); r.Status != 200 {
			t.Fatalf("trigger on node %d: %d %s", i, r.Status, r.Body)
		}
		for _, s := range []*rtSocket{sa, sb} {
			if f := s.nextWhere(name, func(f rtFrame) bool { return f.Channel == "news" }); f.Data != `{"n":1}` {
				t.Errorf("%s data %q", name, f.Data)
			}
		}
	}

	for i, env := range []*testkit.Env{a, b} {
		testkit.WaitFor(t, rtWait, fmt.Sprintf("node %d's counts cover both nodes", i), func() bool {
			var users struct{ Users []struct{ ID string } }
			var news struct {
				SubscriptionCount int `json:"subscription_count"`
			}
			var room struct {
				UserCount         int `json:"user_count"`
				SubscriptionCount int `json:"subscription_count"`
			}
			var conns struct{ Connections int }
			get := func(path, info string, v any) {
				q := url.Values{}
				if info != "" {
					q.Set("info", info)
				}
				_ = json.Unmarshal(pusherDo(t, env, rtApp, pusherReq{method: "GET", path: "/apps/" + rtAppID + path, query: q}).Body, v)
			}
			get("/channels/presence-room/users", "", &users)
			get("/channels/news", "subscription_count", &news)
			get("/channels/presence-room", "user_count,subscription_count", &room)
			get("/connections", "", &conns)
			return len(users.Users) == 2 && users.Users[0].ID == "1" && users.Users[1].ID == "2" &&
				news.SubscriptionCount == 2 && room.UserCount == 2 && room.SubscriptionCount == 2 && conns.Connections == 2
		})
	}

	if r := pusherTrigger(t, a, rtApp, map[string]any{"name": "last", "data": "cached on a", "channel": "cache-board"}); r.Status != 200 {
		t.Fatalf("trigger cache-board: %d %s", r.Status, r.Body)
	}
	late := rtDial(t, b)
	late.send("pusher:subscribe", "", map[string]string{"channel": "cache-board"})
	late.nextWhere("pusher_internal:subscription_succeeded", func(f rtFrame) bool { return f.Channel == "cache-board" })
	if f := late.nextWhere("last", func(f rtFrame) bool { return f.Channel == "cache-board" }); f.Data != "cached on a" {
		t.Errorf("cached event on the other node: %q", f.Data)
	}
}
