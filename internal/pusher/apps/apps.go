// Package apps holds the Pusher applications a node serves: each has an id
// (the HTTP API's /apps/{id}), a public key (sockets connect to /app/{key})
// and a secret that signs API requests, subscriptions and webhooks. One app
// is the messaging app: Parley's own conversation and user channels live on
// it; the others carry only their own application channels.
package apps

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// App is one Pusher application.
type App struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Secret string `json:"secret"`
	// Webhooks are the URLs that receive this app's Pusher-format webhooks
	// (channel_occupied, channel_vacated, member_added, member_removed,
	// client_event); none turns them off.
	Webhooks []string `json:"webhooks,omitempty"`
	// Messaging marks the app that serves Parley's own channels. In a file
	// at most one app may set it; with none set the first app is it.
	Messaging bool `json:"messaging,omitempty"`
}

// Registry is the set of apps, looked up by id or key. It never changes
// after Load, so it is safe for concurrent use.
type Registry struct {
	list  []*App
	byID  map[string]*App
	byKey map[string]*App
	def   *App
}

// New builds a registry and checks it: ids and keys unique and well formed,
// secrets present, webhook URLs absolute http(s), at most one messaging app.
func New(list []App) (*Registry, error) {
	if len(list) == 0 {
		return nil, errors.New("no apps configured")
	}
	r := &Registry{byID: map[string]*App{}, byKey: map[string]*App{}}
	var errs []error
	for i := range list {
		a := list[i]
		errs = append(errs, validate(i, a)...)
		if _, dup := r.byID[a.ID]; dup {
			errs = append(errs, fmt.Errorf("app %d: id %q is used twice", i, a.ID))
		}
		if _, dup := r.byKey[a.Key]; dup {
			errs = append(errs, fmt.Errorf("app %d: key %q is used twice", i, a.Key))
		}
		if a.Messaging {
			if r.def != nil {
				errs = append(errs, fmt.Errorf("app %d: only one app may be the messaging app", i))
			}
			r.def = &a
		}
		r.list = append(r.list, &a)
		r.byID[a.ID], r.byKey[a.Key] = &a, &a
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if r.def == nil {
		r.def = r.list[0]
	}
	r.def.Messaging = true
	return r, nil
}

func validate(i int, a App) []error {
	var errs []error
	if !ValidName(a.ID) {
		errs = append(errs, fmt.Errorf("app %d: id must be 1-64 characters of A-Z a-z 0-9 _ -", i))
	}
	if !ValidName(a.Key) {
		errs = append(errs, fmt.Errorf("app %d: key must be 1-64 characters of A-Z a-z 0-9 _ -", i))
	}
	if a.Secret == "" {
		errs = append(errs, fmt.Errorf("app %d (%s): secret is required", i, a.ID))
	}
	for _, w := range a.Webhooks {
		u, err := url.Parse(w)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("app %d (%s): webhook %q is not an absolute http(s) URL", i, a.ID, w))
		}
	}
	if len(a.Webhooks) > 10 {
		errs = append(errs, fmt.Errorf("app %d (%s): at most 10 webhook URLs", i, a.ID))
	}
	return errs
}

// ValidName reports whether s is 1-64 characters of A-Z a-z 0-9 _ -, the
// form app ids and keys take.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ByID returns the app with that id, or nil.
func (r *Registry) ByID(id string) *App { return r.byID[id] }

// ByKey returns the app with that key, or nil.
func (r *Registry) ByKey(key string) *App { return r.byKey[key] }

// Messaging is the app that serves Parley's own channels.
func (r *Registry) Messaging() *App { return r.def }

// All lists the apps in configuration order.
func (r *Registry) All() []*App { return r.list }

// file is the JSON of an apps file: {"apps":[...]} or a bare array.
type file struct {
	Apps []App `json:"apps"`
}

// ReadFile reads an apps file.
func ReadFile(path string) ([]App, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	raw = []byte(strings.TrimSpace(string(raw)))
	var list []App
	if len(raw) > 0 && raw[0] == '[' {
		err = json.Unmarshal(raw, &list)
	} else {
		var f file
		err = json.Unmarshal(raw, &f)
		list = f.Apps
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s: no apps", path)
	}
	return list, nil
}
