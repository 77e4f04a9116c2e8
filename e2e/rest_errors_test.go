package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"parley/internal/testkit"
)

// Bad input gets the documented status and code, and appends nothing.
func TestBadInputIsRejectedWithoutChanges(t *testing.T) {
	env := testkit.Start(t)
	a, b := env.Token("a"), env.Token("b")
	conv := createConv(t, env, a, "", "b")
	group := createConv(t, env, a, "group", "b", "c")
	mine := sendMsg(t, env, a, conv, "mine", "t1")
	theirs := sendMsg(t, env, b, conv, "theirs", "t2")
	gone := sendMsg(t, env, a, conv, "gone", "t3")
	env.MustDo(http.StatusOK, "DELETE", "/api/messages/"+conv+"/"+gone.ID, a, nil, nil)

	send := "/api/messages/" + conv
	big := strings.Repeat("x", 16<<10+1)
	huge := `{"body":"` + strings.Repeat("y", 64<<10) + `","client_temp_id":"h"}`
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"empty body", "POST", send, "", 400, "malformed_json"},
		{"not json", "POST", send, "{body:", 400, "malformed_json"},
		{"two values", "POST", send, `{"body":"x","client_temp_id":"y"} {}`, 400, "malformed_json"},
		{"array", "POST", send, `[1,2]`, 400, "invalid_type"},
		{"wrong type", "POST", send, `{"body":5,"client_temp_id":"y"}`, 400, "invalid_type"},
		{"unknown field", "POST", send, `{"body":"x","client_temp_id":"y","extra":1}`, 400, "unknown_field"},
		{"invalid utf-8", "POST", send, []byte("{\"body\":\"\xff\xfe\",\"client_temp_id\":\"y\"}"), 400, "invalid_utf8"},
		{"request too large", "POST", send, huge, 413, "request_too_large"},
		{"blank body", "POST", send, `{"body":"  \n ","client_temp_id":"y"}`, 422, "body_required"},
		{"body too long", "POST", send, `{"body":"` + big + `","client_temp_id":"y"}`, 422, "body_too_long"},
		{"control character", "POST", send, `{"body":"a\u0007b","client_temp_id":"y"}`, 422, "invalid_body"},
		{"missing temp id", "POST", send, `{"body":"x"}`, 422, "client_temp_id_required"},
		{"long temp id", "POST", send, `{"body":"x","client_temp_id":"` + strings.Repeat("t", 65) + `"}`, 422, "invalid_client_temp_id"},
		{"conversation not a ulid", "POST", "/api/messages/nope", `{"body":"x","client_temp_id":"y"}`, 404, "conversation_not_found"},
		{"unknown conversation", "POST", "/api/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV", `{"body":"x","client_temp_id":"y"}`, 404, "conversation_not_found"},
		{"edit someone else's", "PATCH", send + "/" + theirs.ID, `{"body":"x"}`, 403, "not_sender"},
		{"edit deleted", "PATCH", send + "/" + gone.ID, `{"body":"x"}`, 409, "message_deleted"},
		{"edit message not a ulid", "PATCH", send + "/zzz", `{"body":"x"}`, 404, "message_not_found"},
		{"edit blank", "PATCH", send + "/" + mine.ID, `{"body":""}`, 422, "body_required"},
		{"read not a ulid", "POST", send + "/read", `{"message_id":"x"}`, 422, "invalid_message_id"},
		{"read unknown", "POST", send + "/read", `{"message_id":"01ARZ3NDEKTSV4RRFFQ69G5FAV"}`, 404, "message_not_found"},
		{"history bad limit", "GET", send + "?limit=abc", nil, 400, "invalid_limit"},
		{"history limit too big", "GET", send + "?limit=1000", nil, 422, "invalid_limit"},
		{"history unknown cursor", "GET", send + "?before_id=01ARZ3NDEKTSV4RRFFQ69G5FAV", nil, 400, "unknown_cursor"},
		{"list bad cursor", "GET", "/api/conversations?cursor=x", nil, 400, "invalid_cursor"},
		{"create no one", "POST", "/api/conversations", `{"participant_ids":[]}`, 422, "participants_required"},
		{"create only self", "POST", "/api/conversations", `{"participant_ids":["a"]}`, 422, "participants_required"},
		{"create bad user id", "POST", "/api/conversations", `{"participant_ids":["has space"]}`, 422, "invalid_user_id"},
		{"create long title", "POST", "/api/conversations", `{"participant_ids":["b","c"],"title":"` + strings.Repeat("t", 201) + `"}`, 422, "invalid_title"},
		{"add to direct", "POST", "/api/conversations/" + conv + "/participants", `{"user_ids":["c"]}`, 422, "direct_conversation"},
		{"add none", "POST", "/api/conversations/" + group + "/participants", `{"user_ids":[]}`, 422, "invalid_user_ids"},
		{"remove by non-creator", "DELETE", "/api/conversations/" + group + "/participants/c", nil, 0, ""},
		{"remove unknown", "DELETE", "/api/conversations/" + group + "/participants/zed", nil, 404, "participant_not_found"},
		{"unknown route", "GET", "/api/nothing", nil, 404, "route_not_found"},
		{"wrong method", "PUT", "/api/conversations", nil, 405, "method_not_allowed"},
	}
	ctx := context.Background()
	before, err := env.Node.Log().LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		tok := a
		if tc.name == "remove by non-creator" {
			tok, tc.status, tc.code = b, 403, "forbidden"
		}
		r := env.Do(tc.method, tc.path, tok, tc.body)
		if r.Status != tc.status || r.ErrorCode() != tc.code {
			t.Errorf("%s: got %d %q, want %d %q: %.200s", tc.name, r.Status, r.ErrorCode(), tc.status, tc.code, r.Body)
		}
		if r.Header.Get("Content-Type") != "application/json" && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json;") {
			t.Errorf("%s: content type %q", tc.name, r.Header.Get("Content-Type"))
		}
	}
	after, err := env.Node.Log().LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("rejected requests appended %d events", after-before)
	}
}
