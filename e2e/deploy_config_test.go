package e2e_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"parley/internal/node"
)

// echoConfig is what GET /api/config tells a Laravel Echo client about
// where to connect.
type echoConfig struct {
	WSHost       string `json:"wsHost"`
	WSPort       int    `json:"wsPort"`
	WSSPort      int    `json:"wssPort"`
	ForceTLS     bool   `json:"forceTLS"`
	AuthEndpoint string `json:"authEndpoint"`
}

// getEchoConfig asks a node for /api/config with the given headers (a Host
// header sets the request's host, as a proxy passing it on does).
func getEchoConfig(t *testing.T, base string, header map[string]string) echoConfig {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/api/config", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cfg echoConfig
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/config: %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Behind a proxy that passes the client's Host (with its port) and sets
// X-Forwarded-Proto, /api/config sends Echo to the proxy over wss.
func TestConfigBehindAProxyTellsThePublicAddress(t *testing.T) {
	env := rtStart(t)
	got := getEchoConfig(t, env.URL(), map[string]string{"Host": "chat.example.com:8443", "X-Forwarded-Proto": "https"})
	want := echoConfig{WSHost: "chat.example.com", WSPort: 8443, WSSPort: 8443, ForceTLS: true, AuthEndpoint: "https://chat.example.com:8443/broadcasting/auth"}
	if got != want {
		t.Fatalf("behind a TLS proxy on 8443: %+v, want %+v", got, want)
	}
	got = getEchoConfig(t, env.URL(), map[string]string{"Host": "chat.example.com", "X-Forwarded-Proto": "https"})
	want = echoConfig{WSHost: "chat.example.com", WSPort: 443, WSSPort: 443, ForceTLS: true, AuthEndpoint: "https://chat.example.com/broadcasting/auth"}
	if got != want {
		t.Fatalf("behind a TLS proxy on the default port: %+v, want %+v", got, want)
	}
	// An IPv6 literal stays bracketed, with or without a port, as pusher-js
	// puts wsHost into a URL.
	got = getEchoConfig(t, env.URL(), map[string]string{"Host": "[2001:db8::7]:8443", "X-Forwarded-Proto": "https"})
	want = echoConfig{WSHost: "[2001:db8::7]", WSPort: 8443, WSSPort: 8443, ForceTLS: true, AuthEndpoint: "https://[2001:db8::7]:8443/broadcasting/auth"}
	if got != want {
		t.Fatalf("an IPv6 host with a port: %+v, want %+v", got, want)
	}
	got = getEchoConfig(t, env.URL(), map[string]string{"Host": "[2001:db8::7]", "X-Forwarded-Proto": "https"})
	want = echoConfig{WSHost: "[2001:db8::7]", WSPort: 443, WSSPort: 443, ForceTLS: true, AuthEndpoint: "https://[2001:db8::7]/broadcasting/auth"}
	if got != want {
		t.Fatalf("an IPv6 host without a port: %+v, want %+v", got, want)
	}
}

// X-Forwarded-Proto counts only from a trusted proxy: a client that sends
// it itself is not told to use TLS where there is none.
func TestConfigIgnoresForwardedProtoFromUntrustedPeers(t *testing.T) {
	env := rtStart(t, func(c *node.Config) { c.TrustedProxies = "10.9.9.9/32" }) // not the test's loopback
	got := getEchoConfig(t, env.URL(), map[string]string{"Host": "chat.example.com:8080", "X-Forwarded-Proto": "https"})
	want := echoConfig{WSHost: "chat.example.com", WSPort: 8080, WSSPort: 8080, ForceTLS: false, AuthEndpoint: "http://chat.example.com:8080/broadcasting/auth"}
	if got != want {
		t.Fatalf("X-Forwarded-Proto from an untrusted peer: %+v, want %+v", got, want)
	}
}

// --public-url wins over what the request says: a proxy that rewrites the
// Host header still sends browsers to the public address.
func TestConfigPublicURLSetting(t *testing.T) {
	env := rtStart(t, func(c *node.Config) { c.PublicURL = "https://chat.example.com" })
	got := getEchoConfig(t, env.URL(), map[string]string{"Host": "127.0.0.1:8080"})
	want := echoConfig{WSHost: "chat.example.com", WSPort: 443, WSSPort: 443, ForceTLS: true, AuthEndpoint: "https://chat.example.com/broadcasting/auth"}
	if got != want {
		t.Fatalf("--public-url https://chat.example.com: %+v, want %+v", got, want)
	}

	for _, bad := range []string{"chat.example.com", "ftp://chat.example.com", "https://chat.example.com/parley", "https://chat.example.com:99999", "https://:443"} {
		c := node.DefaultConfig()
		c.PublicURL = bad
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--public-url") {
			t.Errorf("--public-url %q: %v, want an error naming the flag", bad, err)
		}
	}
}
