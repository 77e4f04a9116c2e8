package e2e_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/engine"
	"parley/internal/testkit"
	"parley/internal/testkit/testcert"
)

// siteFile is the nginx site the repository ships.
const siteFile = "../deploy/nginx/parley.conf"

// proxy is an nginx running the shipped site in front of a test node.
type proxy struct {
	base   string // https://127.0.0.1:port
	port   int
	caFile string // the proxy's self-signed certificate, to trust
	roots  *x509.CertPool
}

// nginxBinary finds nginx (Debian puts it in /usr/sbin, which a user's
// PATH may lack) or skips: .ci/run installs it, so CI always runs this.
func nginxBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	t.Skip("nginx is not installed (apt-get install nginx-light; .ci/run installs it): skipping the test of deploy/nginx/parley.conf")
	return ""
}

// freePort finds a loopback port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(freeAddr(t))
	n, _ := strconv.Atoi(port)
	return n
}

// siteFor is the shipped site with only what a test must change: the
// upstream (the test node), the listen addresses (free loopback ports) and
// the certificate paths. Each replaced line must be found exactly once, so
// a site file that drifts from what the test runs fails here.
func siteFor(t *testing.T, upstream string, httpPort, tlsPort int, cert, key string) string {
	t.Helper()
	raw, err := os.ReadFile(siteFile)
	if err != nil {
		t.Fatal(err)
	}
	site := string(raw)
	for _, r := range [][2]string{
		{"server 127.0.0.1:8080;", "server " + upstream + ";"},
		{"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", httpPort)},
		{"listen [::]:80;", ""},
		{"listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d ssl http2;", tlsPort)},
		{"listen [::]:443 ssl http2;", ""},
		{"/etc/letsencrypt/live/chat.example.com/fullchain.pem", cert},
		{"/etc/letsencrypt/live/chat.example.com/privkey.pem", key},
	} {
		if n := strings.Count(site, r[0]); n != 1 {
			t.Fatalf("%s holds %q %d times, want once", siteFile, r[0], n)
		}
		site = strings.Replace(site, r[0], r[1], 1)
	}
	return site
}

// startNginx runs nginx in the foreground with the shipped site proxying
// to upstream, and waits until it answers over TLS.
func startNginx(t *testing.T, upstream string) *proxy {
	t.Helper()
	bin := nginxBinary(t)
	dir := t.TempDir()
	// nginx's workers may run as another user: let them reach their files.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	c := testcert.Write(t, cert, key, 1)
	httpPort, tlsPort := freePort(t), freePort(t)
	if err := os.WriteFile(filepath.Join(dir, "parley.conf"), []byte(siteFor(t, upstream, httpPort, tlsPort, cert, key)), 0o644); err != nil {
		t.Fatal(err)
	}
	main := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 512; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	include %[1]s/parley.conf;
}
`, dir)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx output: %s\nnginx error.log:\n%s", out.String(), log)
		}
	})
	roots := x509.NewCertPool()
	roots.AddCert(c)
	p := &proxy{base: fmt.Sprintf("https://127.0.0.1:%d", tlsPort), port: tlsPort, caFile: cert, roots: roots}
	client := p.client(false)
	testkit.WaitFor(t, 10*time.Second, "nginx answering over TLS", func() bool {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %v\n%s\n%s", err, out.String(), log)
		default:
		}
		resp, err := client.Get(p.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// client is an HTTPS client that trusts the proxy; h2 offers HTTP/2 as a
// browser does.
func (p *proxy) client(h2 bool) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: p.roots}, ForceAttemptHTTP2: h2,
	}}
}

// dialFrom opens a Pusher socket through the proxy from a given loopback
// address (127.0.0.2, ...), so the proxy sees a client address of its own.
func (p *proxy) dialFrom(t *testing.T, local string) *rtSocket {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, TLSClientConfig: &tls.Config{RootCAs: p.roots}}}
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	u := fmt.Sprintf("wss://127.0.0.1:%d/app/%s?protocol=7", p.port, rtKey)
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("dial %s from %s: %v", u, local, err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	return rtWrap(t, conn)
}

// send posts a message through the proxy and returns it as answered.
func (p *proxy) send(t *testing.T, tok, conv, body string) engine.Message {
	t.Helper()
	raw, _ := json.Marshal(map[string]string{"body": body, "client_temp_id": body})
	req, _ := http.NewRequest("POST", p.base+"/api/messages/"+conv, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client(false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m engine.Message
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("send through nginx: %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}
