package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"parley/internal/node"
)

// rtAppID is the flag app's id in the Pusher HTTP API tests.
const rtAppID = "parleyapp"

// TestPusherServerSDK drives the HTTP API with the official Pusher server
// SDK (npm `pusher`) while pusher-js clients listen: single and batch
// events with and without socket_id, public, private, presence and cache
// channels, client events, channel and user queries, refused requests
// (wrong secret, stale timestamp, unknown app) and terminate_connections.
func TestPusherServerSDK(t *testing.T) {
	nodeBin := rtNode(t)
	env := rtStart(t, func(c *node.Config) { c.AppID = rtAppID })
	host, port, _ := net.SplitHostPort(env.Node.Addr())
	p, _ := strconv.Atoi(port)
	params, _ := json.Marshal(map[string]any{"host": host, "port": p, "appId": rtAppID, "key": rtKey, "secret": rtSecret})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "pusher_sdk_flow.mjs")
	cmd.Dir = rtClientDir
	cmd.Env = append(os.Environ(), "PARLEY_TEST="+string(params))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node pusher_sdk_flow.mjs: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	t.Logf("sdk flow: %s", stdout.String())
	var got struct {
		PresenceIDs  []string          `json:"presenceIds"`
		PresenceInfo map[string]string `json:"presenceInfo"`
		Headline     map[string]string `json:"headline"`
		MultiAnn     int               `json:"multiAnn"`
		MultiBob     []string          `json:"multiBob"`
		BatchInfo    struct {
			Batch []map[string]int `json:"batch"`
		} `json:"batchInfo"`
		BatchAnn    int               `json:"batchAnn"`
		BatchBob    int               `json:"batchBob"`
		B3Data      string            `json:"b3Data"`
		TriggerInfo json.RawMessage   `json:"triggerInfo"`
		ClientEvent map[string]string `json:"clientEvent"`
		Channels    struct {
			Channels map[string]json.RawMessage `json:"channels"`
		} `json:"channels"`
		PresenceChannels json.RawMessage `json:"presenceChannels"`
		NewsInfo         json.RawMessage `json:"newsInfo"`
		Users            struct {
			Users []struct {
				ID string `json:"id"`
			} `json:"users"`
		} `json:"users"`
		Connections struct {
			Connections int `json:"connections"`
		} `json:"connections"`
		UsersOfPublic int            `json:"usersOfPublic"`
		Cached        map[string]int `json:"cached"`
		CacheMiss     []string       `json:"cacheMiss"`
		WrongSecret   int            `json:"wrongSecret"`
		Stale         int            `json:"stale"`
		WrongApp      int            `json:"wrongApp"`
		Leaked        int            `json:"leaked"`
		BobClosed     string         `json:"bobClosed"`
		BobError      *int           `json:"bobError"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("output %q: %v", stdout.String(), err)
	}
	if !slices.Equal(got.PresenceIDs, []string{"1", "2"}) || got.PresenceInfo["name"] != "Bob" {
		t.Errorf("presence members %v, Bob's info %v", got.PresenceIDs, got.PresenceInfo)
	}
	if got.Headline["text"] != "hello" {
		t.Errorf("headline data %v", got.Headline)
	}
	if got.MultiAnn != 0 || !slices.Equal(got.MultiBob, []string{"news", "private-orders"}) {
		t.Errorf("socket_id exclusion: Ann got %d, Bob got it on %v", got.MultiAnn, got.MultiBob)
	}
	if got.BatchAnn != 3 || got.BatchBob != 2 || got.B3Data != "plain text" {
		t.Errorf("batch: Ann got %d (want 3), Bob %d (want 2, b3 excluded him), b3 data %q", got.BatchAnn, got.BatchBob, got.B3Data)
	}
	if len(got.BatchInfo.Batch) != 3 || got.BatchInfo.Batch[1]["user_count"] != 2 || got.BatchInfo.Batch[1]["subscription_count"] != 2 {
		t.Errorf("batch info %+v", got.BatchInfo)
	}
	if string(got.TriggerInfo) != `{"channels":{"news":{"subscription_count":2}}}` {
		t.Errorf("trigger info %s", got.TriggerInfo)
	}
	if got.ClientEvent["from"] != "ann" {
		t.Errorf("client event %v", got.ClientEvent)
	}
	if len(got.Channels.Channels) != 3 || got.Channels.Channels["presence-room"] == nil || got.Channels.Channels["private-orders"] == nil {
		t.Errorf("channels %v", got.Channels.Channels)
	}
	if string(got.PresenceChannels) != `{"channels":{"presence-room":{"user_count":2}}}` {
		t.Errorf("presence channels %s", got.PresenceChannels)
	}
	if string(got.NewsInfo) != `{"occupied":true,"subscription_count":2}` {
		t.Errorf("news info %s", got.NewsInfo)
	}
	if len(got.Users.Users) != 2 || got.Users.Users[0].ID != "1" || got.Users.Users[1].ID != "2" {
		t.Errorf("users %+v", got.Users)
	}
	if got.Connections.Connections != 2 || got.UsersOfPublic != 400 {
		t.Errorf("connections %d (want 2), users of a public channel: status %d (want 400)", got.Connections.Connections, got.UsersOfPublic)
	}
	if got.Cached["v"] != 42 || !slices.Equal(got.CacheMiss, []string{"cache-empty", "private-cache-secret"}) {
		t.Errorf("cache replay %v, cache misses %v", got.Cached, got.CacheMiss)
	}
	if got.WrongSecret != 401 || got.Stale != 401 || got.WrongApp != 404 || got.Leaked != 0 {
		t.Errorf("refused: wrong secret %d, stale %d (want 401), unknown app %d (want 404), %d refused events delivered", got.WrongSecret, got.Stale, got.WrongApp, got.Leaked)
	}
	if got.BobClosed == "" || got.BobError == nil || *got.BobError != 4009 {
		t.Errorf("terminate: Bob's connection went %q with error %v, want closed with 4009", got.BobClosed, got.BobError)
	}
}
