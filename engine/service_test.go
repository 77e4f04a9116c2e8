package engine

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Fixed ids of the service tests.
const (
	svConvG  = "01KC00000000000000000000G1"
	svConvD  = "01KC00000000000000000000D1"
	svConvD2 = "01KC00000000000000000000D2"
	svConvX  = "01KC00000000000000000000X9" // never created

	svMsg1 = "01KM00000000000000000000M1"
	svMsg2 = "01KM00000000000000000000M2"
	svMsg3 = "01KM00000000000000000000M3"
	svMsg9 = "01KM00000000000000000000M9" // never sent
)

// groupFixture is a fixture whose log holds a group conversation G of
// alice, bob and carol (seq 1), alice's message 1 "hello" with
// client_temp_id t1 (seq 2) and bob's message 2 "hi" with t2 (seq 3), all
// projected.
func groupFixture(t *testing.T, cfg ServiceConfig) *svcFixture {
	t.Helper()
	f := newSvcFixture(cfg)
	f.seed(t, ConversationCreated, svConvG, "alice", "",
		ConversationCreatedData{Kind: KindGroup, Title: "team", ParticipantIDs: []string{"alice", "bob", "carol"}}, "")
	f.seed(t, MessageSent, svConvG, "alice", svMsg1, MessageSentData{Body: "hello", ClientTempID: "t1"}, SendKey(svConvG, "alice", "t1"))
	f.seed(t, MessageSent, svConvG, "bob", svMsg2, MessageSentData{Body: "hi", ClientTempID: "t2"}, SendKey(svConvG, "bob", "t2"))
	if got := f.store.Applied(); got != 3 {
		t.Fatalf("the fixture's projector applied %d, want 3", got)
	}
	return f
}

// noAppend fails if the log saw an Append call since appends0.
func (f *svcFixture) noAppend(t *testing.T, appends0 int) {
	t.Helper()
	if _, appends, _ := f.log.counts(); appends != appends0 {
		t.Errorf("the log saw %d Append calls, want none", appends-appends0)
	}
}

// oneRecord returns the only event stored since stored0.
func (f *svcFixture) oneRecord(t *testing.T, stored0 int) memRecord {
	t.Helper()
	recs := f.log.after(stored0)
	if len(recs) != 1 {
		t.Fatalf("the log stored %d events, want 1", len(recs))
	}
	return recs[0]
}

func TestServiceSendValidation(t *testing.T) {
	ctx := context.Background()
	f := groupFixture(t, ServiceConfig{})
	_, appends0, _ := f.log.counts()
	for _, tc := range []struct {
		name, conv, body, tempID string
		kind                     Kind
		code                     string
	}{
		{"empty body", svConvG, "", "t9", KindInvalid, "body_required"},
		{"blank body", svConvG, " \n\t ", "t9", KindInvalid, "body_required"},
		{"body one byte too long", svConvG, strings.Repeat("x", 16385), "t9", KindInvalid, "body_too_long"},
		{"body with a control character", svConvG, "a\x00b", "t9", KindInvalid, "invalid_body"},
		{"body not UTF-8", svConvG, "\xff", "t9", KindInvalid, "invalid_body"},
		{"no client_temp_id", svConvG, "hello", "", KindInvalid, "client_temp_id_required"},
		{"client_temp_id one too long", svConvG, "hello", strings.Repeat("t", 65), KindInvalid, "invalid_client_temp_id"},
		{"client_temp_id with a space", svConvG, "hello", "t 9", KindInvalid, "invalid_client_temp_id"},
		{"client_temp_id with a control character", svConvG, "hello", "t\x019", KindInvalid, "invalid_client_temp_id"},
		{"client_temp_id not UTF-8", svConvG, "hello", "t\xff", KindInvalid, "invalid_client_temp_id"},
		{"conversation id not a ULID", "not-a-conversation", "hello", "t9", KindNotFound, "conversation_not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, created, err := f.svc.Send(ctx, "alice", tc.conv, tc.body, tc.tempID)
			wantError(t, err, tc.kind, tc.code)
			if m != nil || created {
				t.Errorf("Send = %+v, %v with the error, want nil, false", m, created)
			}
		})
	}
	f.noAppend(t, appends0)
	if n := f.store.called("SendCheck"); n != 0 {
		t.Errorf("the store was asked %d SendChecks, want none before the input is valid", n)
	}
}

func TestServiceSendAppendsOneEventAndAnswersFromIt(t *testing.T) {
	ctx := context.Background()
	f := groupFixture(t, ServiceConfig{})
	stored0, _, _ := f.log.counts()
	m, created, err := f.svc.Send(ctx, "alice", svConvG, "  hello there \n", "t-new")
	if err != nil {
		t.Fatal(err)
	}
	rec := f.oneRecord(t, stored0)
	if !created {
		t.Error("created = false, want true")
	}
	want := Message{ID: rec.ev.ID.String(), ConversationID: svConvG, SenderID: "alice", Body: "hello there",
		ClientTempID: "t-new", Seq: 4, CreatedAt: "2026-03-01T12:00:00.000000Z"}
	if !reflect.DeepEqual(*m, want) {
		t.Errorf("Send = %+v\nwant %+v", *m, want)
	}
	if rec.ev.Type != MessageSent || rec.ev.ActorID != "alice" || rec.ev.ConversationID != svConvG || !rec.ev.At.Equal(svcNow) {
		t.Errorf("stored %s by %s in %s at %v", rec.ev.Type, rec.ev.ActorID, rec.ev.ConversationID, rec.ev.At)
	}
	if rec.key != "send:01KC00000000000000000000G1:alice:t-new" {
		t.Errorf("idempotency key %q", rec.key)
	}
	if got := string(rec.ev.Data); got != `{"body":"hello there","client_temp_id":"t-new"}` {
		t.Errorf("payload %s", got)
	}
	if n := f.store.called("MessageByTempID"); n != 0 {
		t.Errorf("MessageByTempID was called %d times; an accepted new event answers from itself", n)
	}
}

func TestServiceSendAcceptsTheLimits(t *testing.T) {
	ctx := context.Background()
	f := groupFixture(t, ServiceConfig{})
	body := strings.Repeat("é", 8192) // 16384 bytes
	tempID := strings.Repeat("ü", 64) // 64 characters, 128 bytes
	m, created, err := f.svc.Send(ctx, "bob", svConvG, "\n "+body+" \t", tempID)
	if err != nil {
		t.Fatal(err)
	}
	if !created || len(m.Body) != 16384 || m.Body != body || m.ClientTempID != tempID {
		t.Errorf("Send = created %v, body of %d bytes, client_temp_id %q", created, len(m.Body), m.ClientTempID)
	}
}

func TestServiceSendByNonParticipant(t *testing.T) {
	ctx := context.Background()
	f := groupFixture(t, ServiceConfig{})
	_, appends0, _ := f.log.counts()
	for _, tc := range []struct{ name, user, conv string }{
		{"not a participant", "dave", svConvG},
		{"no such conversation", "alice", svConvX},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _, err := f.svc.Send(ctx, tc.user, tc.conv, "let me in", "t9")
			wantError(t, err, KindNotFound, "conversation_not_found")
			if !errors.Is(err, ErrConversationNotFound) || m != nil {
				t.Errorf("Send = %v, %v; want ErrConversationNotFound itself", m, err)
			}
		})
	}
	f.noAppend(t, appends0)
}

func TestServiceSendRetryWithAnExistingClientTempID(t *testing.T) {
	ctx := context.Background()
	f := groupFixture(t, ServiceConfig{})
	_, appends0, _ := f.log.counts()
	m, created, err := f.svc.Send(ctx, "alice", svConvG, "a different body", "t1")
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("created = true for a retry")
	}
	want := Message{ID: svMsg1, ConversationID: svConvG, SenderID: "alice", Body: "hello", ClientTempID: "t1", Seq: 2,
		CreatedAt: "2026-03-01T11:00:00.000000Z"}
	if !reflect.DeepEqual(*m, want) {
		t.Errorf("Send = %+v\nwant the stored %+v", *m, want)
	}
	f.noAppend(t, appends0)
}

// The log already holds the send (an earlier attempt whose answer was lost)
// but this node has not applied it: the log acks a duplicate, and Send
// answers the original message once it is applied.
func TestServiceSendDuplicateAckReturnsTheOriginal(t *testing.T) {
	ctx := context.Background()
	f := newSvcFixture(ServiceConfig{})
	f.seed(t, ConversationCreated, svConvG, "alice", "",
		ConversationCreatedData{Kind: KindGroup, ParticipantIDs: []string{"alice", "bob"}}, "")
	f.store.setPaused(true)
	f.seed(t, MessageSent, svConvG, "alice", svMsg1, MessageSentData{Body: "first try", ClientTempID: "t1"}, SendKey(svConvG, "alice", "t1"))
	f.store.setPaused(false) // applies seq 2 when the command waits
	if got := f.store.Applied(); got != 1 {
		t.Fatalf("applied %d before the send, want 1", got)
	}
	m, created, err := f.svc.Send(ctx, "alice", svConvG, "second try", "t1")
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("created = true for a duplicate")
	}
	want := Message{ID: svMsg1, ConversationID: svConvG, SenderID: "alice", Body: "first try", ClientTempID: "t1", Seq: 2,
		CreatedAt: "2026-03-01T11:00:00.000000Z"}
	if !reflect.DeepEqual(*m, want) {
		t.Errorf("Send = %+v\nwant the original %+v", *m, want)
	}
	if stored, appends, dups := f.log.counts(); stored != 2 || appends != 3 || dups != 1 {
		t.Errorf("log: %d stored, %d appends, %d duplicate acks; want 2, 3, 1", stored, appends, dups)
	}
}

// A send the read model does not apply in time answers not_yet_projected;
// the same request again returns the message the first one stored.
func TestServiceSendNotProjectedInTimeThenRetried(t *testing.T) {
	ctx := context.Background()
	f := groupFixture(t, ServiceConfig{ApplyTimeout: 30 * time.Millisecond})
	f.store.setPaused(true)
	stored0, _, _ := f.log.counts()
	_, _, err := f.svc.Send(ctx, "carol", svConvG, "anyone?", "t3")
	wantError(t, err, KindUnavailable, "not_yet_projected")
	first := f.oneRecord(t, stored0)

	f.store.setPaused(false)
	m, created, err := f.svc.Send(ctx, "carol", svConvG, "anyone?", "t3")
	if err != nil {
		t.Fatal(err)
	}
	if created || m.ID != first.ev.ID.String() || m.Seq != 4 || m.Body != "anyone?" {
		t.Errorf("retry = %+v, created %v; want the first attempt's message (seq 4), created false", *m, created)
	}
	if stored, _, dups := f.log.counts(); stored != 4 || dups != 1 {
		t.Errorf("log: %d stored, %d duplicate acks; want 4, 1", stored, dups)
	}
}

func TestServiceEditAndDeleteRules(t *testing.T) {
	ctx := context.Background()
	f := groupFixture(t, ServiceConfig{})
	refused := []struct {
		name string
		do   func() (*Message, error)
		kind Kind
		code string
	}{
		{"edit someone else's message", func() (*Message, error) {
			return f.svc.Edit(ctx, "bob", svConvG, svMsg1, "mine now")
		}, KindForbidden, "not_sender"},
		{"delete someone else's message", func() (*Message, error) {
			return f.svc.Delete(ctx, "alice", svConvG, svMsg2)
		}, KindForbidden, "not_sender"},
		{"edit by a non-participant", func() (*Message, error) {
			return f.svc.Edit(ctx, "dave", svConvG, svMsg1, "x")
		}, KindNotFound, "conversation_not_found"},
		{"delete by a non-participant", func() (*Message, error) {
			return f.svc.Delete(ctx, "dave", svConvG, svMsg1)
		}, KindNotFound, "conversation_not_found"},
		{"edit an unknown message", func() (*Message, error) {
			return f.svc.Edit(ctx, "alice", svConvG, svMsg9, "x")
		}, KindNotFound, "message_not_found"},
		{"delete a message id that is no ULID", func() (*Message, error) {
			return f.svc.Delete(ctx, "alice", svConvG, "nope")
		}, KindNotFound, "message_not_found"},
		{"edit with a blank body", func() (*Message, error) {
			return f.svc.Edit(ctx, "alice", svConvG, svMsg1, "  ")
		}, KindInvalid, "body_required"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, appends0, _ := f.log.counts()
			m, err := tc.do()
			wantError(t, err, tc.kind, tc.code)
			if m != nil {
				t.Errorf("message %+v with the error", *m)
			}
			f.noAppend(t, appends0)
		})
	}
	t.Run("edit own message", func(t *testing.T) {
		stored0, _, _ := f.log.counts()
		m, err := f.svc.Edit(ctx, "alice", svConvG, svMsg1, " edited ")
		if err != nil {
			t.Fatal(err)
		}
		if m.ID != svMsg1 || m.Body != "edited" || m.EditedAt == nil || *m.EditedAt != "2026-03-01T12:00:00.000000Z" || m.DeletedAt != nil {
			t.Errorf("Edit = %+v", *m)
		}
		rec := f.oneRecord(t, stored0)
		if rec.ev.Type != MessageEdited || rec.key != "" || string(rec.ev.Data) != `{"message_id":"01KM00000000000000000000M1","body":"edited"}` {
			t.Errorf("stored %s %s with key %q", rec.ev.Type, rec.ev.Data, rec.key)
		}
	})
	t.Run("delete own message", func(t *testing.T) {
		stored0, _, _ := f.log.counts()
		m, err := f.svc.Delete(ctx, "alice", svConvG, svMsg1)
		if err != nil {
			t.Fatal(err)
		}
		if m.Body != "" || m.DeletedAt == nil || *m.DeletedAt != "2026-03-01T12:00:00.000000Z" {
			t.Errorf("Delete = %+v", *m)
		}
		rec := f.oneRecord(t, stored0)
		if rec.ev.Type != MessageDeleted || string(rec.ev.Data) != `{"message_id":"01KM00000000000000000000M1"}` {
			t.Errorf("stored %s %s", rec.ev.Type, rec.ev.Data)
		}
	})
	t.Run("edit a deleted message", func(t *testing.T) {
		_, appends0, _ := f.log.counts()
		_, err := f.svc.Edit(ctx, "alice", svConvG, svMsg1, "revived")
		wantError(t, err, KindConflict, "message_deleted")
		f.noAppend(t, appends0)
	})
	t.Run("delete a deleted message again", func(t *testing.T) {
		_, appends0, _ := f.log.counts()
		m, err := f.svc.Delete(ctx, "alice", svConvG, svMsg1)
		if err != nil {
			t.Fatal(err)
		}
		if m.DeletedAt == nil || *m.DeletedAt != "2026-03-01T12:00:00.000000Z" {
			t.Errorf("Delete = %+v, want the message as deleted", *m)
		}
		f.noAppend(t, appends0)
	})
}

func TestServiceMarkRead(t *testing.T) {
	ctx := context.Background()
	f := groupFixture(t, ServiceConfig{})
	f.seed(t, MessageSent, svConvG, "alice", svMsg3, MessageSentData{Body: "more", ClientTempID: "t3"}, "") // seq 4
	for _, tc := range []struct {
		name, user, msg string
		kind            Kind
		code            string
	}{
		{"empty message id", "carol", "", KindInvalid, "invalid_message_id"},
		{"message id that is no ULID", "carol", "nope", KindInvalid, "invalid_message_id"},
		{"message id not canonical", "carol", strings.ToLower(svMsg1), KindInvalid, "invalid_message_id"},
		{"not a participant", "dave", svMsg1, KindNotFound, "conversation_not_found"},
		{"unknown message", "carol", svMsg9, KindNotFound, "message_not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, appends0, _ := f.log.counts()
			rs, err := f.svc.MarkRead(ctx, tc.user, svConvG, tc.msg)
			wantError(t, err, tc.kind, tc.code)
			if rs != nil {
				t.Errorf("read state %+v with the error", *rs)
			}
			f.noAppend(t, appends0)
		})
	}
	t.Run("forward", func(t *testing.T) {
		stored0, _, _ := f.log.counts()
		rs, err := f.svc.MarkRead(ctx, "carol", svConvG, svMsg2)
		if err != nil {
			t.Fatal(err)
		}
		rec := f.oneRecord(t, stored0)
		if rec.ev.Type != ConversationRead || rec.ev.ActorID != "carol" || string(rec.ev.Data) != `{"message_id":"01KM00000000000000000000M2"}` {
			t.Errorf("stored %s by %s: %s", rec.ev.Type, rec.ev.ActorID, rec.ev.Data)
		}
		c := rs.Conversation
		if c.LastReadMessageID == nil || *c.LastReadMessageID != svMsg2 || c.LastReadSeq != 3 || c.UnreadCount != 1 || rs.Summary.UnreadTotal != 1 {
			t.Errorf("read state: marker %v at %d, unread %d, total %d; want message 2 at 3, 1, 1",
				c.LastReadMessageID, c.LastReadSeq, c.UnreadCount, rs.Summary.UnreadTotal)
		}
	})
	for _, tc := range []struct{ name, msg string }{{"back", svMsg1}, {"in place", svMsg2}} {
		t.Run(tc.name, func(t *testing.T) {
			_, appends0, _ := f.log.counts()
			rs, err := f.svc.MarkRead(ctx, "carol", svConvG, tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			f.noAppend(t, appends0)
			if c := rs.Conversation; c.LastReadMessageID == nil || *c.LastReadMessageID != svMsg2 || c.LastReadSeq != 3 {
				t.Errorf("read state: marker %v at %d, want message 2 at 3", c.LastReadMessageID, c.LastReadSeq)
			}
		})
	}
}

func TestServiceCreateConversation(t *testing.T) {
	ctx := context.Background()
	t.Run("direct pair that exists is returned as is", func(t *testing.T) {
		f := newSvcFixture(ServiceConfig{})
		f.seed(t, ConversationCreated, svConvD, "alice", "",
			ConversationCreatedData{Kind: KindDirect, ParticipantIDs: []string{"alice", "bob"}, DirectKey: "alice|bob"}, "direct:alice|bob")
		_, appends0, _ := f.log.counts()
		for _, req := range []struct {
			user  string
			ids   []string
			title string
		}{
			{"bob", []string{"alice"}, ""},
			{"alice", []string{"bob", "alice", "bob"}, "  "},
		} {
			d, created, err := f.svc.CreateConversation(ctx, req.user, req.ids, req.title)
			if err != nil {
				t.Fatal(err)
			}
			if created || d.ID != svConvD || d.Kind != "direct" || d.CreatedBy != "alice" || len(d.Participants) != 2 {
				t.Errorf("%s %v: created %v, %+v; want the existing %s", req.user, req.ids, created, d.ConversationSummary, svConvD)
			}
		}
		f.noAppend(t, appends0)
	})
	t.Run("new direct pair", func(t *testing.T) {
		f := newSvcFixture(ServiceConfig{})
		d, created, err := f.svc.CreateConversation(ctx, "carol", []string{"alice"}, "")
		if err != nil {
			t.Fatal(err)
		}
		rec := f.oneRecord(t, 0)
		if !created || d.ID != rec.ev.ConversationID || !ValidID(d.ID) || d.Kind != "direct" || d.CreatedBy != "carol" {
			t.Errorf("created %v, %+v", created, d.ConversationSummary)
		}
		if rec.key != "direct:alice|carol" ||
			string(rec.ev.Data) != `{"kind":"direct","participant_ids":["alice","carol"],"direct_key":"alice|carol"}` {
			t.Errorf("stored %s with key %q", rec.ev.Data, rec.key)
		}
		if len(d.Participants) != 2 || d.Participants[0].UserID != "alice" || d.Participants[1].UserID != "carol" {
			t.Errorf("participants %+v", d.Participants)
		}
	})
	t.Run("direct pair another node created meanwhile", func(t *testing.T) {
		f := newSvcFixture(ServiceConfig{})
		f.store.setPaused(true)
		f.seed(t, ConversationCreated, svConvD2, "alice", "",
			ConversationCreatedData{Kind: KindDirect, ParticipantIDs: []string{"alice", "dave"}, DirectKey: "alice|dave"}, "direct:alice|dave")
		f.store.setPaused(false) // not applied until the command waits
		d, created, err := f.svc.CreateConversation(ctx, "dave", []string{"alice"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if created || d.ID != svConvD2 {
			t.Errorf("created %v, id %s; want the other node's %s", created, d.ID, svConvD2)
		}
		if stored, appends, dups := f.log.counts(); stored != 1 || appends != 2 || dups != 1 {
			t.Errorf("log: %d stored, %d appends, %d duplicate acks; want 1, 2, 1", stored, appends, dups)
		}
	})
	t.Run("group", func(t *testing.T) {
		f := newSvcFixture(ServiceConfig{})
		d, created, err := f.svc.CreateConversation(ctx, "alice", []string{"carol", "bob", "carol"}, " team ")
		if err != nil {
			t.Fatal(err)
		}
		rec := f.oneRecord(t, 0)
		if !created || d.Kind != "group" || d.Title != "team" || d.ParticipantCount != 3 {
			t.Errorf("created %v, %+v", created, d.ConversationSummary)
		}
		if rec.key != "" || string(rec.ev.Data) != `{"kind":"group","title":"team","participant_ids":["alice","bob","carol"]}` {
			t.Errorf("stored %s with key %q", rec.ev.Data, rec.key)
		}
	})
	t.Run("validation", func(t *testing.T) {
		limits := DefaultLimits()
		limits.MaxParticipants = 3
		f := newSvcFixture(ServiceConfig{Limits: limits})
		for _, tc := range []struct {
			name  string
			ids   []string
			title string
			code  string
		}{
			{"nobody else", nil, "", "participants_required"},
			{"only the caller", []string{"alice", "alice"}, "", "participants_required"},
			{"invalid user id", []string{"bob", "bad id"}, "", "invalid_user_id"},
			{"empty user id", []string{""}, "", "invalid_user_id"},
			{"title too long", []string{"bob"}, strings.Repeat("t", 201), "invalid_title"},
			{"title with a control character", []string{"bob"}, "a\x01b", "invalid_title"},
			{"too many participants", []string{"bob", "carol", "dave"}, "", "too_many_participants"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				d, _, err := f.svc.CreateConversation(ctx, "alice", tc.ids, tc.title)
				wantError(t, err, KindInvalid, tc.code)
				if d != nil {
					t.Errorf("detail %+v with the error", *d)
				}
			})
		}
		f.noAppend(t, 0)
		if n := f.store.called("DirectConversation"); n != 0 {
			t.Errorf("DirectConversation called %d times for invalid input", n)
		}
	})
}

// deltaFixture's conversation G (alice and bob) holds: created (seq 1),
// message 1 (2), message 2 (3), a send the projector rejects (4: message 1's
// client_temp_id again) and message 1's deletion (5).
func deltaFixture(t *testing.T) *svcFixture {
	t.Helper()
	f := newSvcFixture(ServiceConfig{})
	f.seed(t, ConversationCreated, svConvG, "alice", "", ConversationCreatedData{Kind: KindGroup, ParticipantIDs: []string{"alice", "bob"}}, "")
	f.seed(t, MessageSent, svConvG, "alice", svMsg1, MessageSentData{Body: "one", ClientTempID: "t1"}, "")
	f.seed(t, MessageSent, svConvG, "alice", svMsg2, MessageSentData{Body: "two", ClientTempID: "t2"}, "")
	f.seed(t, MessageSent, svConvG, "alice", svMsg3, MessageSentData{Body: "again", ClientTempID: "t1"}, "")
	f.seed(t, MessageDeleted, svConvG, "alice", "", MessageDeletedData{MessageID: svMsg1}, "")
	if ok, known := f.store.Outcome(4); ok || !known {
		t.Fatalf("the fake projector's outcome of seq 4: accepted %v, known %v; want rejected", ok, known)
	}
	return f
}

func deltaSeqs(d *Delta) []uint64 {
	out := []uint64{}
	for _, w := range d.Events {
		out = append(out, w.Seq)
	}
	return out
}

func TestServiceDelta(t *testing.T) {
	ctx := context.Background()
	f := deltaFixture(t)
	t.Run("limit bounds", func(t *testing.T) {
		for _, tc := range []struct {
			limit int
			ok    bool
		}{{-1, false}, {501, false}, {1 << 20, false}, {0, true}, {1, true}, {500, true}} {
			d, err := f.svc.Delta(ctx, "alice", svConvG, DeltaCursor{}, tc.limit)
			if tc.ok {
				if err != nil {
					t.Errorf("limit %d: %v", tc.limit, err)
				}
				continue
			}
			wantError(t, err, KindInvalid, "invalid_limit")
			if d != nil {
				t.Errorf("limit %d: delta with the error", tc.limit)
			}
		}
	})
	t.Run("ambiguous cursor", func(t *testing.T) {
		_, err := f.svc.Delta(ctx, "alice", svConvG, DeltaCursor{AfterMessageID: svMsg1, AfterSeq: 2, HasSeq: true}, 0)
		wantError(t, err, KindMalformed, "ambiguous_cursor")
	})
	t.Run("not a participant", func(t *testing.T) {
		_, err := f.svc.Delta(ctx, "dave", svConvG, DeltaCursor{}, 0)
		wantError(t, err, KindNotFound, "conversation_not_found")
	})
	for _, tc := range []struct {
		name    string
		cur     DeltaCursor
		limit   int
		seqs    []uint64
		last    uint64
		hasMore bool
	}{
		{"everything", DeltaCursor{}, 0, []uint64{1, 2, 3, 5}, 5, false},
		{"first page", DeltaCursor{}, 2, []uint64{1, 2}, 2, true},
		{"a page of a rejected event only", DeltaCursor{AfterSeq: 3, HasSeq: true}, 1, []uint64{}, 4, true},
		{"after seq 4", DeltaCursor{AfterSeq: 4, HasSeq: true}, 0, []uint64{5}, 5, false},
		{"after message 2", DeltaCursor{AfterMessageID: svMsg2}, 0, []uint64{5}, 5, false},
		{"at the end", DeltaCursor{AfterSeq: 5, HasSeq: true}, 0, []uint64{}, 5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := f.svc.Delta(ctx, "alice", svConvG, tc.cur, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := deltaSeqs(d); !equalSeqs(got, tc.seqs) || d.LastSeq != tc.last || d.HasMore != tc.hasMore {
				t.Errorf("events %v, last_seq %d, has_more %v; want %v, %d, %v", got, d.LastSeq, d.HasMore, tc.seqs, tc.last, tc.hasMore)
			}
		})
	}
	t.Run("a deleted message's body is not replayed", func(t *testing.T) {
		d, err := f.svc.Delta(ctx, "bob", svConvG, DeltaCursor{}, 2)
		if err != nil {
			t.Fatal(err)
		}
		m, ok := d.Events[1].Data.(Message)
		if !ok || m.ID != svMsg1 || m.Body != "" || m.DeletedAt == nil || *m.DeletedAt != "2026-03-01T11:00:00.000000Z" {
			t.Errorf("event 2 = %+v", d.Events[1].Data)
		}
	})
	for _, tc := range []struct {
		name string
		cur  DeltaCursor
	}{
		{"unknown cursor message", DeltaCursor{AfterMessageID: svMsg9}},
		{"cursor past the log", DeltaCursor{AfterSeq: 99, HasSeq: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Delta(ctx, "alice", svConvG, tc.cur, 0)
			wantError(t, err, KindMalformed, "unknown_cursor")
		})
	}
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestServicePageLimits(t *testing.T) {
	for _, tc := range []struct {
		limit, def, max, want int
		ok                    bool
	}{
		{0, 50, 200, 50, true}, {1, 50, 200, 1, true}, {200, 50, 200, 200, true},
		{201, 50, 200, 0, false}, {-1, 50, 200, 0, false},
	} {
		got, err := PageLimit(tc.limit, tc.def, tc.max)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("PageLimit(%d, %d, %d) = %d, %v; want %d", tc.limit, tc.def, tc.max, got, err, tc.want)
		}
		if !tc.ok {
			wantError(t, err, KindInvalid, "invalid_limit")
		}
	}
	ctx := context.Background()
	f := groupFixture(t, ServiceConfig{})
	_, err := f.svc.History(ctx, "alice", svConvG, "", 201)
	wantError(t, err, KindInvalid, "invalid_limit")
	_, err = f.svc.Conversations(ctx, "alice", "", -1)
	wantError(t, err, KindInvalid, "invalid_limit")
	_, err = f.svc.Conversations(ctx, "alice", "not-a-cursor", 0)
	wantError(t, err, KindMalformed, "invalid_cursor")
}

func TestServiceParticipantRules(t *testing.T) {
	ctx := context.Background()
	f := groupFixture(t, ServiceConfig{})
	f.seed(t, ConversationCreated, svConvD, "alice", "",
		ConversationCreatedData{Kind: KindDirect, ParticipantIDs: []string{"alice", "bob"}, DirectKey: "alice|bob"}, "direct:alice|bob")
	_, appends0, _ := f.log.counts()
	wantError(t, f.svc.RemoveParticipant(ctx, "bob", svConvG, "carol"), KindForbidden, "forbidden")
	wantError(t, f.svc.RemoveParticipant(ctx, "alice", svConvG, "dave"), KindNotFound, "participant_not_found")
	wantError(t, f.svc.RemoveParticipant(ctx, "dave", svConvG, "dave"), KindNotFound, "conversation_not_found")
	wantError(t, f.svc.RemoveParticipant(ctx, "alice", svConvD, "bob"), KindInvalid, "direct_conversation")
	_, err := f.svc.AddParticipants(ctx, "alice", svConvD, []string{"carol"})
	wantError(t, err, KindInvalid, "direct_conversation")
	_, err = f.svc.AddParticipants(ctx, "alice", svConvG, nil)
	wantError(t, err, KindInvalid, "invalid_user_ids")
	f.noAppend(t, appends0)
}

func TestServiceAuthorizeChannel(t *testing.T) {
	ctx := context.Background()
	f := groupFixture(t, ServiceConfig{})
	for _, tc := range []struct {
		name, user, channel string
		kind                Kind // of the error; 0 with an empty code
		code                string
		wantKind            ChannelKind
	}{
		{"participant, conversation", "alice", "private-conversation.01KC00000000000000000000G1", 0, "", ChannelConversation},
		{"participant, presence", "carol", "presence-conversation.01KC00000000000000000000G1", 0, "", ChannelPresenceConversation},
		{"non-participant, conversation", "dave", "private-conversation.01KC00000000000000000000G1", KindForbidden, "channel_forbidden", 0},
		{"non-participant, presence", "dave", "presence-conversation.01KC00000000000000000000G1", KindForbidden, "channel_forbidden", 0},
		{"unknown conversation", "alice", "private-conversation.01KC00000000000000000000X9", KindForbidden, "channel_forbidden", 0},
		{"conversation id that is no ULID", "alice", "private-conversation.G1", KindForbidden, "channel_forbidden", 0},
		{"own user channel", "alice", "private-user.alice", 0, "", ChannelUser},
		{"someone else's user channel", "alice", "private-user.bob", KindForbidden, "channel_forbidden", 0},
		{"presence-messaging", "dave", "presence-messaging", 0, "", ChannelPresenceMessaging},
		{"public channel", "alice", "news", KindForbidden, "channel_forbidden", 0},
		{"malformed name", "alice", "private-conversation.G1!", KindMalformed, "invalid_channel", 0},
		{"empty name", "alice", "", KindMalformed, "invalid_channel", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := f.svc.AuthorizeChannel(ctx, tc.user, tc.channel)
			if tc.code != "" {
				wantError(t, err, tc.kind, tc.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ch.Kind != tc.wantKind || ch.Name != tc.channel {
				t.Errorf("channel %+v, want kind %d", ch, tc.wantKind)
			}
		})
	}
	t.Run("a node behind the log answers catching_up, not forbidden", func(t *testing.T) {
		f := groupFixture(t, ServiceConfig{ApplyTimeout: 20 * time.Millisecond, CatchUpWait: 20 * time.Millisecond})
		f.store.setPaused(true)
		f.seed(t, ParticipantAdded, svConvG, "alice", "", ParticipantData{UserID: "dave"}, "") // seq 4, not applied
		start := time.Now()
		_, err := f.svc.AuthorizeChannel(ctx, "dave", "private-conversation.01KC00000000000000000000G1")
		wantError(t, err, KindUnavailable, "catching_up")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("answered after %v", d)
		}
		f.store.setPaused(false)
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := f.store.WaitApplied(wctx, 4); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AuthorizeChannel(ctx, "dave", "private-conversation.01KC00000000000000000000G1"); err != nil {
			t.Errorf("after catching up: %v", err)
		}
	})
}
