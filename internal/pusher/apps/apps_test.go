package apps

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	for _, c := range []struct {
		name    string
		list    []App
		wantErr string
		msg     string
	}{
		{"first is messaging", []App{{ID: "a", Key: "ka", Secret: "s"}, {ID: "b", Key: "kb", Secret: "s"}}, "", "a"},
		{"marked messaging", []App{{ID: "a", Key: "ka", Secret: "s"}, {ID: "b", Key: "kb", Secret: "s", Messaging: true}}, "", "b"},
		{"two messaging", []App{{ID: "a", Key: "ka", Secret: "s", Messaging: true}, {ID: "b", Key: "kb", Secret: "s", Messaging: true}}, "only one app", ""},
		{"duplicate id", []App{{ID: "a", Key: "ka", Secret: "s"}, {ID: "a", Key: "kb", Secret: "s"}}, "id \"a\" is used twice", ""},
		{"duplicate key", []App{{ID: "a", Key: "k", Secret: "s"}, {ID: "b", Key: "k", Secret: "s"}}, "key \"k\" is used twice", ""},
		{"bad id", []App{{ID: "a b", Key: "k", Secret: "s"}}, "id must be", ""},
		{"no secret", []App{{ID: "a", Key: "k"}}, "secret is required", ""},
		{"bad webhook", []App{{ID: "a", Key: "k", Secret: "s", Webhooks: []string{"ftp://x"}}}, "not an absolute http(s) URL", ""},
		{"none", nil, "no apps", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := New(c.list)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Messaging().ID != c.msg || r.ByKey(r.Messaging().Key) != r.Messaging() || r.ByID("zz") != nil {
				t.Fatalf("messaging app %q, want %q", r.Messaging().ID, c.msg)
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"obj.json": `{"apps":[{"id":"a","key":"k","secret":"s","webhooks":["https://x/h"]}]}`,
		"arr.json": `[{"id":"a","key":"k","secret":"s","webhooks":["https://x/h"]}]`,
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		list, err := ReadFile(path)
		if err != nil || len(list) != 1 || list[0].Webhooks[0] != "https://x/h" {
			t.Fatalf("%s: %+v, %v", name, list, err)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("a missing file read without error")
	}
}
