// Package webui serves Parley's reference chat page: web/ builds it from
// npm packages (laravel-echo, pusher-js) into dist/, which is committed and
// embedded here, so the binary needs nothing at run time. `just web`
// rebuilds dist/; a test fails when it is stale.
package webui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// dist is the built page: index.html and assets/.
//
//go:embed dist
var dist embed.FS

// CSP is the page's Content-Security-Policy: its own scripts, styles and
// connections only (the WebSocket is on the same host), no inline code;
// images also from blob: URLs (attachments, fetched with the token in a
// header).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data: blob:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// file is one servable file with its precomputed headers.
type file struct {
	body []byte
	typ  string
	etag string
}

// Files returns the embedded build output, rooted at dist/ (for the
// staleness test).
func Files() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is embedded at build time; this cannot fail
	}
	return sub
}

// Mount serves the page in front of next (the API): GET and HEAD of "/"
// (index.html) and of "/assets/<name>" (its script and style) come from the
// embedded build; every other request, and an unknown asset, goes to next.
// The page is a client of the API served beside it, not one of its routes,
// so the API's route list and OpenAPI document do not include it. Answers
// carry an ETag and Cache-Control: no-cache, so browsers revalidate and get
// 304 until the binary changes.
func Mount(next http.Handler) http.Handler {
	files := load()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.URL.Path]
		if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, f.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", f.typ)
		h.Set("Content-Length", strconv.Itoa(len(f.body)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(f.body)
	})
}

// load indexes the build by URL path: "/" for index.html, "/assets/<name>".
func load() map[string]file {
	files := map[string]file{}
	err := fs.WalkDir(Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Files(), p)
		if err != nil {
			return err
		}
		typ := mime.TypeByExtension(path.Ext(p))
		if strings.HasSuffix(p, ".js") {
			typ = "text/javascript; charset=utf-8"
		}
		sum := sha256.Sum256(b)
		f := file{body: b, typ: typ, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		switch {
		case p == "index.html":
			files["/"] = f
		case strings.HasPrefix(p, "assets/"):
			files["/"+p] = f
		}
		return nil
	})
	if err != nil {
		panic(err) // the build is embedded at compile time; reading it cannot fail
	}
	return files
}
