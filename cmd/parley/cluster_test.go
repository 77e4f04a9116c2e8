package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/api"
	"parley/engine"
	"parley/internal/testkit"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// getJSON reads a JSON answer; status 0 when the node cannot be reached.
func getJSON(client *http.Client, url, token string, out any) int {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return 0
		}
	}
	return resp.StatusCode
}

// Three `parley serve` processes form an embedded JetStream cluster (R3).
// Under load one node is killed with SIGKILL and later restarted; its
// clients move to another node (senders retry the same client_temp_id,
// readers resume delta from their last seq). At the end every acknowledged
// message is stored exactly once on every node, every reader saw each
// exactly once, and the restarted node's read models verify.
func TestClusterSurvivesNodeLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster")
	}
	t.Setenv("PARLEY_TEST_AS_MAIN", "1")
	var routes []string
	cluster := make([]string, 3)
	for i := range cluster {
		cluster[i] = freeAddr(t)
		routes = append(routes, "nats://"+cluster[i])
	}
	nodes := make([]*crashServer, 3)
	for i := range nodes {
		nodes[i] = &crashServer{t: t, dir: t.TempDir(), addr: freeAddr(t), args: []string{
			"--cluster-name", "parley-test", "--cluster-listen", cluster[i], "--routes", strings.Join(routes, ","),
			"--node-name", fmt.Sprint("n", i), "--notifications=false",
		}}
		nodes[i].launch()
	}
	defer func() {
		for _, n := range nodes {
			n.kill()
		}
	}()
	for _, n := range nodes {
		n.waitUp()
	}
	url := func(i int) string { return "http://" + nodes[i].addr }
	alice, _ := api.MintToken([]byte(testkit.Secret), "alice", "", false, time.Hour)
	bob, _ := api.MintToken([]byte(testkit.Secret), "bob", "", false, time.Hour)
	client := &http.Client{Timeout: 5 * time.Second}
	// The first write may wait for the streams' leaders while the cluster
	// settles on a busy machine; a direct conversation is created once per
	// pair, so a retry is safe (201 the first time, 200 after).
	var st int
	var body []byte
	testkit.WaitFor(t, time.Minute, "the cluster to take the first write", func() bool {
		st, body = post(client, url(0)+"/api/conversations", alice, map[string]any{"participant_ids": []string{"bob"}})
		return st == http.StatusCreated || st == http.StatusOK
	})
	var conv engine.ConversationDetail
	if err := json.Unmarshal(body, &conv); err != nil {
		t.Fatal(err)
	}
	// Each node's projector holds the conversation before the load starts:
	// a send waits at most 2 s for its node to catch up with the log, and a
	// cluster that has just formed can take longer than that for its first
	// events (the senders treat a 4xx as a failure).
	for i := range 3 {
		testkit.WaitFor(t, time.Minute, fmt.Sprintf("node %d to apply the conversation", i), func() bool {
			var d engine.ConversationDetail
			return getJSON(client, url(i)+"/api/conversations/"+conv.ID, alice, &d) == http.StatusOK && d.ID == conv.ID
		})
	}

	var mu sync.Mutex
	acked := map[string]string{} // client_temp_id -> message id
	var stop atomic.Bool
	var wg sync.WaitGroup
	// One sender per node; on failure it moves to the next node and retries
	// the same client_temp_id.
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := w
			for i := 0; !stop.Load(); i++ {
				ctid := fmt.Sprintf("s%d-%d", w, i)
				deadline := time.Now().Add(60 * time.Second)
				for {
					st, b := post(client, url(at)+"/api/messages/"+conv.ID, alice, map[string]string{"body": ctid, "client_temp_id": ctid})
					if st == http.StatusCreated || st == http.StatusOK {
						var m engine.Message
						if err := json.Unmarshal(b, &m); err != nil {
							t.Errorf("answer %s: %v", b, err)
							return
						}
						mu.Lock()
						if prev, ok := acked[ctid]; ok && prev != m.ID {
							t.Errorf("%s answered as %s and as %s", ctid, prev, m.ID)
						}
						acked[ctid] = m.ID
						mu.Unlock()
						break
					}
					if st >= 400 && st < 500 {
						t.Errorf("send %s: %d %s", ctid, st, b)
						return
					}
					if time.Now().After(deadline) {
						t.Errorf("send %s never succeeded", ctid)
						return
					}
					at = (at + 1) % 3 // reconnect elsewhere
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	// One reader per node, following the conversation by delta from its
	// last seq; on failure it resumes on the next node.
	type reader struct {
		mu   sync.Mutex // seen is read by the test while the reader writes it
		seen map[string]int
		last uint64
	}
	readers := make([]*reader, 3)
	var rwg sync.WaitGroup
	var readStop atomic.Bool
	for r := range readers {
		rd := &reader{seen: map[string]int{}}
		readers[r] = rd
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			at := r
			for !readStop.Load() {
				var d struct {
					Events []struct {
						Type engine.EventType `json:"type"`
						Data engine.Message   `json:"data"`
					} `json:"events"`
					HasMore bool   `json:"has_more"`
					LastSeq uint64 `json:"last_seq"`
				}
				st := getJSON(client, fmt.Sprintf("%s/api/messages/%s/delta?after_seq=%d&limit=500", url(at), conv.ID, rd.last), bob, &d)
				if st != http.StatusOK {
					at = (at + 1) % 3
					time.Sleep(20 * time.Millisecond)
					continue
				}
				rd.mu.Lock()
				for _, e := range d.Events {
					if e.Type == engine.MessageSent {
						rd.seen[e.Data.ID]++
					}
				}
				rd.mu.Unlock()
				rd.last = d.LastSeq
				if !d.HasMore {
					time.Sleep(20 * time.Millisecond) // poll interval of a client without a socket
				}
			}
		}()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	testkit.WaitFor(t, 60*time.Second, "sends before the kill", func() bool { return count() >= 100 })
	nodes[2].kill()
	killedAt := count()
	testkit.WaitFor(t, 60*time.Second, "sends while a node is down", func() bool { return count() >= killedAt+100 })
	nodes[2].start()
	restartedAt := count()
	testkit.WaitFor(t, 60*time.Second, "sends after the restart", func() bool { return count() >= restartedAt+100 })
	stop.Store(true)
	wg.Wait()
	t.Logf("%d acknowledged sends (node 2 killed at %d, back at %d)", len(acked), killedAt, restartedAt)

	// Every node ends with every acknowledged message exactly once.
	for i := range nodes {
		var stored map[string]int
		testkit.WaitFor(t, 60*time.Second, fmt.Sprintf("node %d to catch up", i), func() bool {
			stored = map[string]int{}
			cursor := ""
			for {
				var page engine.MessagePage
				q := "?limit=200"
				if cursor != "" {
					q += "&before_id=" + cursor
				}
				if getJSON(client, url(i)+"/api/messages/"+conv.ID+q, alice, &page) != http.StatusOK {
					return false
				}
				for _, m := range page.Messages {
					stored[m.ClientTempID]++
				}
				if !page.HasMore {
					break
				}
				cursor = *page.NextBefore
			}
			return len(stored) >= len(acked)
		})
		for ctid := range acked {
			if stored[ctid] != 1 {
				t.Errorf("node %d stores %s %d times", i, ctid, stored[ctid])
			}
		}
		if len(stored) != len(acked) {
			t.Errorf("node %d stores %d messages, %d were acknowledged", i, len(stored), len(acked))
		}
	}
	// Every reader recovered to the same set, each message once.
	testkit.WaitFor(t, 30*time.Second, "readers to see every message", func() bool {
		for _, rd := range readers {
			n := 0
			rd.mu.Lock()
			for _, id := range acked {
				if rd.seen[id] > 0 {
					n++
				}
			}
			rd.mu.Unlock()
			if n < len(acked) {
				return false
			}
		}
		return true
	})
	readStop.Store(true)
	rwg.Wait()
	for r, rd := range readers {
		for id, n := range rd.seen {
			if n != 1 {
				t.Errorf("reader %d saw %s %d times", r, id, n)
			}
		}
	}
	out, err := runCmd(t, "verify", "--data", nodes[2].dir)
	if err != nil || !strings.Contains(out, "verify: equal") {
		t.Fatalf("verify on the restarted node: %v\n%s", err, out)
	}
}
