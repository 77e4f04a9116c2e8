package node

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// ToolURLFile holds, while `parley serve` runs with an embedded server, the
// URL (with its token) where local tools reach that server. It is readable by
// the data dir's owner only.
const ToolURLFile = "nats.url"

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func writeToolURL(dataDir, clientURL, token string) error {
	path := filepath.Join(dataDir, ToolURLFile)
	if clientURL == "" {
		return removeIfExists(path)
	}
	u, err := url.Parse(clientURL)
	if err != nil {
		return err
	}
	u.User = url.User(token)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(u.String()+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func removeToolURL(dataDir string) { _ = removeIfExists(filepath.Join(dataDir, ToolURLFile)) }

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// ToolURL returns the URL a running server left in the data dir, or "".
func ToolURL(dataDir string) string {
	b, err := os.ReadFile(filepath.Join(dataDir, ToolURLFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
