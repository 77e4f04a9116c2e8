package api

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"parley/engine"
)

// DevTokenTTL is how long a token minted by POST /dev/token lasts.
const DevTokenTTL = 24 * time.Hour

// devNameMax bounds the display name a dev token carries, in characters.
const devNameMax = 64

type devTokenRequest struct {
	User string `json:"user"`
	Name string `json:"name"`
}

// DevToken is the answer of POST /dev/token: a user token signed with the
// server's JWT secret, as the host application would mint one.
type DevToken struct {
	Token     string `json:"token"`
	UserID    string `json:"user_id"`
	Name      string `json:"name"`
	ExpiresAt string `json:"expires_at"`
}

// devRoutes registers the development sign-in (parley serve --dev). It is
// never registered otherwise, so without --dev the route answers 404.
func (s *Server) devRoutes() {
	s.echo.POST("/dev/token", s.devToken)
}

// devToken serves POST /dev/token {user, name?}: anyone who reaches the
// server may act as any user, which is why it exists only with --dev.
func (s *Server) devToken(c echo.Context) error {
	var req devTokenRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if !engine.ValidUserID(req.User) {
		return engine.Errorf(engine.KindInvalid, "invalid_user_id",
			"user must be 1-%d characters of A-Z a-z 0-9 _ - = @ , . ;", engine.DefaultLimits().MaxUserIDBytes)
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = req.User
	}
	if utf8.RuneCountInString(name) > devNameMax {
		return engine.Errorf(engine.KindInvalid, "invalid_name", "name must be at most %d characters", devNameMax)
	}
	tok, err := MintToken(s.auth.secret, req.User, name, false, DevTokenTTL)
	if err != nil {
		return err
	}
	exp := engine.FormatTime(time.Now().Add(DevTokenTTL))
	return c.JSON(http.StatusOK, DevToken{Token: tok, UserID: req.User, Name: name, ExpiresAt: exp})
}
