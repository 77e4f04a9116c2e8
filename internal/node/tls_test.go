package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/internal/testkit/testcert"
)

// selfSigned writes a certificate for 127.0.0.1 with the given serial (see
// testcert.Write).
func selfSigned(t *testing.T, certPath, keyPath string, serial int64) *x509.Certificate {
	return testcert.Write(t, certPath, keyPath, serial)
}

// --tls-cert and --tls-key serve HTTPS and wss directly; /api/config tells
// Echo to force TLS; a certificate replaced on disk is served to new
// connections within seconds, while a socket opened before stays up.
func TestTLSServesAndReloadsARenewedCertificate(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := selfSigned(t, certPath, keyPath, 1)
	cfg := DefaultConfig()
	cfg.Addr, cfg.DataDir, cfg.JWTSecret = "127.0.0.1:0", filepath.Join(dir, "data"), "s"
	cfg.AppKey, cfg.AppSecret = "tlskey", "tlssecret"
	cfg.TLSCert, cfg.TLSKey = certPath, keyPath
	m := &Node{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })

	roots := x509.NewCertPool()
	roots.AddCert(first)
	// served returns the serial of the certificate a new connection gets.
	served := func() int64 {
		conn, err := tls.Dial("tcp", m.Addr(), &tls.Config{InsecureSkipVerify: true}) // the test checks the serial itself
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := client.Get(m.URL() + "/api/config")
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		ForceTLS bool `json:"forceTLS"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&conf)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !conf.ForceTLS {
		t.Fatalf("/api/config over TLS: %d forceTLS=%v", resp.StatusCode, conf.ForceTLS)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "wss://"+m.Addr()+"/app/tlskey?protocol=7", &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if _, raw, err := ws.Read(ctx); err != nil || !json.Valid(raw) {
		t.Fatalf("connection_established over wss: %v %s", err, raw)
	}

	selfSigned(t, certPath, keyPath, 2)
	deadline := time.Now().Add(10 * time.Second)
	for served() != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was never served")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The socket opened under the old certificate is still there.
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"event":"pusher:ping","data":{}}`)); err != nil {
		t.Fatal(err)
	}
	_, raw, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("the socket did not survive the renewal: %v", err)
	}
	var f struct {
		Event string `json:"event"`
	}
	_ = json.Unmarshal(raw, &f)
	if f.Event != "pusher:pong" {
		t.Fatalf("after the renewal the socket answered %s", raw)
	}
}

// A renewal that does not load (the key not written yet) keeps the previous
// certificate in service.
func TestTLSKeepsTheCertificateWhenARenewalDoesNotLoad(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	selfSigned(t, certPath, keyPath, 7)
	r, err := newCertReloader(certPath, keyPath, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.checked = time.Time{} // look at the files now
	c, err := r.GetCertificate(nil)
	if err != nil || c == nil {
		t.Fatalf("GetCertificate: %v %v", c, err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil || leaf.SerialNumber.Int64() != 7 {
		t.Fatalf("served %v %v, want the previous certificate (serial 7)", leaf.SerialNumber, err)
	}
	if _, err := newCertReloader(certPath, keyPath, slog.Default()); err == nil {
		t.Error("a node starts with a key that does not load")
	}
}
