package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"parley/internal/testkit"
	"parley/streams"
)

// opsSpec is the part of an OpenAPI document the tests read.
type opsSpec struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
}

type opsOperation struct {
	Parameters []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
	RequestBody *json.RawMessage `json:"requestBody"`
	Responses   map[string]struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
	Security []map[string]any `json:"security"`
}

var opsEchoParam = regexp.MustCompile(`:([A-Za-z_]+)`)

func opsFetchSpec(t *testing.T, env *testkit.Env) opsSpec {
	t.Helper()
	r := env.MustDo(http.StatusOK, "GET", "/openapi.json", "", nil, nil)
	var spec opsSpec
	r.Decode(t, &spec)
	if spec.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", spec.OpenAPI)
	}
	return spec
}

// /openapi.json names exactly the registered routes (both ways), and every
// operation is complete: path parameters, request bodies, a success answer,
// error answers in the Error shape, 401 where a token is needed, and only
// schema references that resolve.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	env := opsStart(t)
	spec := opsFetchSpec(t, env)
	registered := map[string]bool{}
	for _, r := range env.Node.API().Routes() {
		registered[strings.ToLower(r.Method)+" "+opsEchoParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	documented := map[string]bool{}
	for path, ops := range spec.Paths {
		for method := range ops {
			documented[method+" "+path] = true
		}
	}
	var missing, extra []string
	for k := range registered {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !registered[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("openapi.json is out of date:\n  registered but not documented: %v\n  documented but not registered: %v", missing, extra)
	}

	raw := env.MustDo(http.StatusOK, "GET", "/openapi.json", "", nil, nil).Body
	for _, ref := range regexp.MustCompile(`"#/components/schemas/([A-Za-z]+)"`).FindAllSubmatch(raw, -1) {
		if spec.Components.Schemas[string(ref[1])] == nil {
			t.Errorf("unresolved schema reference %s", ref[1])
		}
	}
	for path, ops := range spec.Paths {
		for method, rawOp := range ops {
			var op opsOperation
			if err := json.Unmarshal(rawOp, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			opsCheckOperation(t, method, path, op)
		}
	}
}

func opsCheckOperation(t *testing.T, method, path string, op opsOperation) {
	t.Helper()
	name := method + " " + path
	for _, m := range regexp.MustCompile(`\{([a-z_]+)\}`).FindAllStringSubmatch(path, -1) {
		found := false
		for _, p := range op.Parameters {
			found = found || (p.In == "path" && p.Name == m[1])
		}
		if !found {
			t.Errorf("%s: no path parameter %s", name, m[1])
		}
	}
	if (method == "post" || method == "patch") && op.RequestBody == nil {
		t.Errorf("%s: no request body", name)
	}
	success := false
	for code, resp := range op.Responses {
		if code < "400" {
			success = true
			continue
		}
		for ct, c := range resp.Content {
			if ref, _ := c.Schema["$ref"].(string); ct == "application/json" && ref != "#/components/schemas/Error" && path != "/readyz" {
				t.Errorf("%s: %s answers %s, not the Error shape", name, code, ref)
			}
		}
	}
	if !success {
		t.Errorf("%s: no success answer", name)
	}
	needsToken := len(op.Security) > 0
	for _, s := range op.Security {
		needsToken = needsToken && len(s) > 0
	}
	if _, ok := op.Responses["401"]; needsToken && !ok && method != "options" {
		t.Errorf("%s: needs a token but documents no 401", name)
	}
}

// Real answers of documented routes match their schemas: every required
// field present, no undocumented field.
func TestOpenAPISchemasMatchAnswers(t *testing.T) {
	env := opsStart(t)
	spec := opsFetchSpec(t, env)
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := opsGroup(t, env, alice, "bob")
	first := opsSend(t, env, alice, conv, "schema check")
	// A reply and a reaction, so the history shows their fields.
	env.MustDo(http.StatusCreated, "POST", "/api/messages/"+conv, bob,
		map[string]string{"body": "an answer", "client_temp_id": "schema-reply", "reply_to": first.ID}, nil)
	env.MustDo(http.StatusOK, "PUT", "/api/messages/"+conv+"/"+first.ID+"/reactions/%F0%9F%91%8D", bob, nil, nil)
	opsWaitNotifications(t, env, bob, 1)
	opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	for _, c := range []struct{ path, tok, schema string }{
		{"/api/conversations", alice, "ConversationList"},
		{"/api/conversations/" + conv, alice, "ConversationDetail"},
		{"/api/messages/" + conv, alice, "MessagePage"},
		{"/api/messages/" + conv + "/" + first.ID + "/replies", alice, "MessagePage"},
		{"/api/search?q=schema", alice, "SearchPage"},
		{"/api/messages/" + conv + "/delta", alice, "Delta"},
		{"/api/notifications", bob, "NotificationPage"},
		{"/api/ops/stats", opsToken(t), "OpsStats"},
		{"/api/ops/stats/history", opsToken(t), "StatsHistory"},
		{"/api/ops/dead-letters", opsToken(t), "DeadLetterPage"},
		{"/api/config", "", "ClientConfig"},
		{"/api/conversations/nope", alice, "Error"},
	} {
		r := env.Do("GET", c.path, c.tok, nil)
		var v any
		if err := json.Unmarshal(r.Body, &v); err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		for _, problem := range opsValidate(spec, map[string]any{"$ref": "#/components/schemas/" + c.schema}, v, c.schema) {
			t.Errorf("GET %s: %s", c.path, problem)
		}
	}
}

// opsValidate checks v against a (small subset of) JSON Schema: $ref,
// allOf, oneOf, type, properties, required, additionalProperties: false and
// items. It returns the problems found.
func opsValidate(spec opsSpec, schema map[string]any, v any, at string) []string {
	if ref, ok := schema["$ref"].(string); ok {
		return opsValidate(spec, spec.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")], v, at)
	}
	if all, ok := schema["allOf"].([]any); ok {
		merged := map[string]any{"type": "object", "properties": map[string]any{}}
		var req []any
		for _, s := range all {
			sub := s.(map[string]any)
			if ref, ok := sub["$ref"].(string); ok {
				sub = spec.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
			}
			for k, p := range opsMap(sub["properties"]) {
				merged["properties"].(map[string]any)[k] = p
			}
			req = append(req, opsSlice(sub["required"])...)
		}
		merged["required"], merged["additionalProperties"] = req, false
		return opsValidate(spec, merged, v, at)
	}
	if one, ok := schema["oneOf"].([]any); ok {
		var last []string
		for _, s := range one {
			if last = opsValidate(spec, s.(map[string]any), v, at); len(last) == 0 {
				return nil
			}
		}
		return append([]string{at + ": matches no oneOf branch"}, last...)
	}
	if !opsTypeOK(schema["type"], v) {
		return []string{fmt.Sprintf("%s: %T does not match type %v", at, v, schema["type"])}
	}
	var problems []string
	switch x := v.(type) {
	case map[string]any:
		props := opsMap(schema["properties"])
		for _, r := range opsSlice(schema["required"]) {
			if _, ok := x[r.(string)]; !ok {
				problems = append(problems, at+": missing required "+r.(string))
			}
		}
		for k, fv := range x {
			p, ok := props[k].(map[string]any)
			if !ok {
				if schema["additionalProperties"] == false {
					problems = append(problems, at+": undocumented field "+k)
				}
				continue
			}
			problems = append(problems, opsValidate(spec, p, fv, at+"."+k)...)
		}
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i, e := range x {
				problems = append(problems, opsValidate(spec, items, e, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return problems
}

func opsMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func opsSlice(v any) []any        { s, _ := v.([]any); return s }

func opsTypeOK(typ any, v any) bool {
	types := []any{typ}
	if list, ok := typ.([]any); ok {
		types = list
	}
	for _, t := range types {
		switch t {
		case nil:
			return true
		case "object":
			_, ok := v.(map[string]any)
			if ok {
				return true
			}
		case "array":
			if _, ok := v.([]any); ok {
				return true
			}
		case "string":
			if _, ok := v.(string); ok {
				return true
			}
		case "number":
			if _, ok := v.(float64); ok {
				return true
			}
		case "integer":
			if f, ok := v.(float64); ok && f == float64(int64(f)) {
				return true
			}
		case "boolean":
			if _, ok := v.(bool); ok {
				return true
			}
		case "null":
			if v == nil {
				return true
			}
		}
	}
	return false
}
