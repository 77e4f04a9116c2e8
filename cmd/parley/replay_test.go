package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"parley/engine"
	"parley/internal/testkit"
)

// workload drives a seeded random mix through the HTTP API: sends (some
// retried), reads, edits, deletes and membership changes.
type workload struct {
	t     *testing.T
	env   *testkit.Env
	rng   *rand.Rand
	users []string
	convs []string
	msgs  map[string][]engine.Message // by conversation
	sent  int
}

func (w *workload) tok(u string) string { return w.env.Token(u) }

func (w *workload) setup() {
	for i := range 8 {
		w.users = append(w.users, fmt.Sprint("u", i))
	}
	w.msgs = map[string][]engine.Message{}
	for i := range 6 {
		a, b := w.users[i%8], w.users[(i+1)%8]
		body := map[string]any{"participant_ids": []string{b}}
		if i%2 == 0 {
			body = map[string]any{"participant_ids": []string{b, w.users[(i+3)%8]}, "title": fmt.Sprint("group ", i)}
		}
		var d engine.ConversationDetail
		r := w.env.Do("POST", "/api/conversations", w.tok(a), body)
		r.Decode(w.t, &d)
		w.convs = append(w.convs, d.ID)
	}
}

// member picks a current participant of conv.
func (w *workload) member(conv string) string {
	var d engine.ConversationDetail
	w.env.MustDo(http.StatusOK, "GET", "/api/conversations/"+conv, w.tok(w.anyMember(conv)), nil, &d)
	return d.Participants[w.rng.IntN(len(d.Participants))].UserID
}

// anyMember finds some participant by asking each user.
func (w *workload) anyMember(conv string) string {
	for _, u := range w.users {
		if w.env.Do("GET", "/api/conversations/"+conv, w.tok(u), nil).Status == http.StatusOK {
			return u
		}
	}
	w.t.Fatalf("conversation %s has no members", conv)
	return ""
}

func (w *workload) step() {
	conv := w.convs[w.rng.IntN(len(w.convs))]
	u := w.member(conv)
	ms := w.msgs[conv]
	switch p := w.rng.IntN(100); {
	case p < 60 || len(ms) == 0:
		w.sent++
		temp := fmt.Sprint("w-", w.sent)
		if w.rng.IntN(10) == 0 && w.sent > 1 {
			temp = fmt.Sprint("w-", w.sent-1) // a retry (maybe by someone else, then a new message)
		}
		var m engine.Message
		r := w.env.Do("POST", "/api/messages/"+conv, w.tok(u), map[string]string{"body": fmt.Sprint("msg ", w.rng.Uint32()), "client_temp_id": temp})
		if r.Status == http.StatusCreated {
			r.Decode(w.t, &m)
			w.msgs[conv] = append(ms, m)
		} else if r.Status != http.StatusOK {
			w.t.Fatalf("send: %d %s", r.Status, r.Body)
		}
	case p < 80:
		m := ms[w.rng.IntN(len(ms))]
		w.env.MustDo(http.StatusOK, "POST", "/api/messages/"+conv+"/read", w.tok(u), map[string]string{"message_id": m.ID}, nil)
	case p < 88:
		m := ms[w.rng.IntN(len(ms))]
		w.env.Do("PATCH", "/api/messages/"+conv+"/"+m.ID, w.tok(m.SenderID), map[string]string{"body": "edited"})
	case p < 93:
		m := ms[w.rng.IntN(len(ms))]
		w.env.Do("DELETE", "/api/messages/"+conv+"/"+m.ID, w.tok(m.SenderID), nil)
	case p < 97:
		w.env.Do("POST", "/api/conversations/"+conv+"/participants", w.tok(u), map[string]any{"user_ids": []string{w.users[w.rng.IntN(8)]}})
	default:
		w.env.Do("DELETE", "/api/conversations/"+conv+"/participants/"+u, w.tok(u), nil)
	}
}

// lateEvents appends, straight to the log, events the projector must reject:
// a send retried after the duplicate window and a read marker moving back.
func (w *workload) lateEvents() {
	ctx := context.Background()
	for conv, ms := range w.msgs {
		if len(ms) < 2 {
			continue
		}
		m := ms[len(ms)-1]
		for _, ev := range []struct {
			typ  engine.EventType
			data any
		}{
			{engine.MessageSent, engine.MessageSentData{Body: "late retry", ClientTempID: m.ClientTempID}},
			{engine.ConversationRead, engine.ConversationReadData{MessageID: ms[0].ID}},
			{engine.ConversationRead, engine.ConversationReadData{MessageID: ms[0].ID}},
		} {
			e, err := engine.NewEvent(ev.typ, conv, m.SenderID, time.Now(), ev.data)
			if err != nil {
				w.t.Fatal(err)
			}
			if _, _, err := w.env.Node.Log().Append(ctx, e, ""); err != nil {
				w.t.Fatal(err)
			}
		}
		return
	}
}

// verifyRow is one table's line of verify's report.
type verifyRow struct {
	live, rebuilt int
	status        string
}

// verifyTable parses the table verify prints: a header line starting with
// "table", then one line per table of six fields (table, live rows, rebuilt
// rows, live checksum, rebuilt checksum, status).
func verifyTable(t *testing.T, out string) map[string]verifyRow {
	t.Helper()
	rows := map[string]verifyRow{}
	header := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "table" {
			header = true
			continue
		}
		if !header || len(f) != 6 {
			continue
		}
		live, err1 := strconv.Atoi(f[1])
		rebuilt, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("verify table line %q: row counts are not numbers", line)
		}
		rows[f[0]] = verifyRow{live: live, rebuilt: rebuilt, status: f[5]}
	}
	if !header {
		t.Fatalf("verify printed no table:\n%s", out)
	}
	return rows
}

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return out.String() + errb.String(), err
}

// A random workload with a projector restart in the middle, then verify (a
// rebuild from the log) must find the live read models equal; a tampered
// live database must be caught.
func TestReplayAndVerifyAfterRandomWorkload(t *testing.T) {
	env := testkit.Start(t)
	w := &workload{t: t, env: env, rng: rand.New(rand.NewPCG(42, 7))}
	w.setup()
	for range 150 {
		w.step()
	}
	env.Restart() // the projector stops after its batch and resumes from the checkpoint
	w.lateEvents()
	for range 150 {
		w.step()
	}
	dir := env.Config.DataDir

	// verify while the server runs (reading the log through its NATS port).
	out, err := runCmd(t, "verify", "--data", dir)
	if err != nil || !strings.Contains(out, "verify: equal") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	t.Log(out)
	rows := verifyTable(t, out)
	for _, table := range []string{"conversations", "participants", "messages", "message_reads", "unread_summary", "skipped_events"} {
		r, ok := rows[table]
		if !ok {
			t.Fatalf("verify output does not report %s:\n%s", table, out)
		}
		if r.status != "equal" || r.live != r.rebuilt {
			t.Fatalf("verify reports %s as %s (%d live rows, %d rebuilt):\n%s", table, r.status, r.live, r.rebuilt, out)
		}
	}
	if rows["skipped_events"].live == 0 {
		t.Fatalf("the workload produced no rejected events:\n%s", out)
	}
	// replay into a file, then verify against it.
	rebuilt := filepath.Join(t.TempDir(), "rebuilt.db")
	out, err = runCmd(t, "replay", "--data", dir, "--out", rebuilt)
	if err != nil || !strings.Contains(out, "events/s") {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	out, err = runCmd(t, "verify", "--data", dir, "--against", rebuilt)
	if err != nil || !strings.Contains(out, "verify: equal") {
		t.Fatalf("verify --against: %v\n%s", err, out)
	}

	// Tamper with the live database while the server is stopped; verify (now
	// with its own embedded server) must report the difference and fail.
	env.Stop()
	db, err := sql.Open("sqlite", filepath.Join(dir, "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	// A wrong read anchor makes a wrong unread count in the unread_summary view.
	if _, err := db.Exec(`UPDATE participants SET own_after = own_after + 7 WHERE user_id = 'u1'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, err = runCmd(t, "verify", "--data", dir)
	if !errors.Is(err, errDiffer) || !strings.Contains(out, "DIFFERENT") || !strings.Contains(out, "unread_summary") ||
		!strings.Contains(out, "participants") {
		t.Fatalf("verify of a tampered database: %v\n%s", err, out)
	}
}
