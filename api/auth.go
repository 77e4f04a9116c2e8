package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"parley/engine"
)

// Identity is the caller, as the token names them.
type Identity struct {
	UserID string
	Name   string
	Avatar string
	Ops    bool
}

// Claims are the JWT claims Parley reads: sub is the user id; name and avatar
// become presence user_info; ops marks an operator token.
type Claims struct {
	Name   string `json:"name,omitempty"`
	Avatar string `json:"avatar,omitempty"`
	Ops    bool   `json:"ops,omitempty"`
	jwt.RegisteredClaims
}

// Authenticator verifies HS256 tokens signed with a shared secret.
type Authenticator struct {
	secret []byte
	parser *jwt.Parser
	cache  tokenCache
}

// tokenLeeway is the clock skew allowed on exp and nbf.
const tokenLeeway = 30 * time.Second

// NewAuthenticator returns an Authenticator for secret.
func NewAuthenticator(secret []byte) *Authenticator {
	return &Authenticator{
		secret: secret,
		parser: jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(tokenLeeway)),
	}
}

// MintToken signs a token for userID that expires after ttl.
func MintToken(secret []byte, userID, name string, ops bool, ttl time.Duration) (string, error) {
	now := time.Now()
	c := Claims{Name: name, Ops: ops, RegisteredClaims: jwt.RegisteredClaims{
		Subject: userID, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}

var errBadToken = engine.Errorf(engine.KindUnauthorized, "invalid_token", "the token is malformed, expired or wrongly signed")

// Verify checks a token and returns the identity it carries. A token that
// verified before is answered from memory until it expires; callers must not
// change the returned Identity.
func (a *Authenticator) Verify(token string) (*Identity, error) {
	if id := a.cache.get(token, time.Now()); id != nil {
		return id, nil
	}
	var c Claims
	_, err := a.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return a.secret, nil })
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, engine.Errorf(engine.KindUnauthorized, "token_expired", "the token has expired")
		}
		return nil, errBadToken
	}
	if !engine.ValidUserID(c.Subject) {
		return nil, engine.Errorf(engine.KindUnauthorized, "invalid_token", "the token's sub is not a valid user id")
	}
	id := &Identity{UserID: c.Subject, Name: c.Name, Avatar: c.Avatar, Ops: c.Ops}
	if c.ExpiresAt != nil {
		a.cache.put(token, id, c.ExpiresAt.Add(tokenLeeway))
	}
	return id, nil
}

type identityKey struct{}

// bearer extracts the token from the Authorization header (or, where allowed,
// the token query parameter used by EventSource).
func bearer(r *http.Request, allowQuery bool) string {
	h := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	if allowQuery {
		return r.URL.Query().Get("token")
	}
	return ""
}

// requireUser is the middleware that guards /api.
func (s *Server) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		// EventSource cannot send a header: the stream takes the token
		// from the query too.
		tok := bearer(c.Request(), c.Path() == "/api/stream")
		if tok == "" {
			return engine.Errorf(engine.KindUnauthorized, "missing_token", "send Authorization: Bearer <token>")
		}
		id, err := s.auth.Verify(tok)
		if err != nil {
			return err
		}
		c.Set("identity", id)
		return next(c)
	}
}

// identity returns the authenticated caller.
func identity(c echo.Context) *Identity {
	id, _ := c.Get("identity").(*Identity)
	return id
}
