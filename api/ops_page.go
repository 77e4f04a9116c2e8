package api

import (
	"bytes"
	"embed"
	"html"
	"net/http"

	"github.com/labstack/echo/v4"
)

// opsAssets is the /ops dashboard: one page, its script and its style, all
// served from the binary (no external assets; it works offline).
//
//go:embed ops_assets/*
var opsAssets embed.FS

// opsAssetTypes are the assets /ops/:asset serves, with their types.
var opsAssetTypes = map[string]string{
	"ops.js":  "text/javascript; charset=utf-8",
	"ops.css": "text/css; charset=utf-8",
}

const opsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func opsHeaders(c echo.Context) {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", opsCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// opsPage serves GET /ops: the dashboard for a caller with an ops token (a
// Bearer header or the ops cookie), a login form with 401 otherwise.
// /ops?token=<ops token> checks the token, stores it in an HttpOnly,
// SameSite=Strict cookie and redirects to /ops, so the token leaves the
// address bar.
func (s *Server) opsPage(c echo.Context) error {
	opsHeaders(c)
	if tok := c.QueryParam("token"); tok != "" {
		id, err := s.auth.Verify(tok)
		if err != nil || !id.Ops {
			return s.opsLogin(c, "That is not a valid ops token.")
		}
		c.SetCookie(&http.Cookie{Name: opsCookie, Value: tok, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: c.Scheme() == "https"})
		return c.Redirect(http.StatusSeeOther, "/ops")
	}
	if _, err := s.opsIdentity(c); err != nil {
		return s.opsLogin(c, "")
	}
	page, err := opsAssets.ReadFile("ops_assets/ops.html")
	if err != nil {
		return err
	}
	return c.HTMLBlob(http.StatusOK, page)
}

// opsLogin refuses the dashboard: 401 with a form asking for the token.
func (s *Server) opsLogin(c echo.Context, problem string) error {
	page, err := opsAssets.ReadFile("ops_assets/login.html")
	if err != nil {
		return err
	}
	if problem != "" {
		page = bytes.Replace(page, []byte("<!--problem-->"), []byte(`<p class="problem" id="problem">`+html.EscapeString(problem)+`</p>`), 1)
	}
	return c.HTMLBlob(http.StatusUnauthorized, page)
}

// opsAsset serves the dashboard's script and style.
func (s *Server) opsAsset(c echo.Context) error {
	name := c.Param("asset")
	typ, ok := opsAssetTypes[name]
	if !ok {
		return echo.ErrNotFound
	}
	b, err := opsAssets.ReadFile("ops_assets/" + name)
	if err != nil {
		return err
	}
	opsHeaders(c)
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, typ, b)
}
