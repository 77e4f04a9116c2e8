package api

import (
	"github.com/labstack/echo/v4"

	"parley/engine"
)

// opsCookie carries the ops token for the /ops page and the API calls it
// makes; it is HttpOnly and SameSite=Strict, and the ops API only reads.
const opsCookie = "parley_ops"

var errNotOps = engine.Errorf(engine.KindForbidden, "ops_token_required", "this route needs an ops token (parley token --ops)")

// opsIdentity verifies the caller's ops token, from Authorization: Bearer
// or the ops cookie.
func (s *Server) opsIdentity(c echo.Context) (*Identity, error) {
	tok := bearer(c.Request(), false)
	if tok == "" {
		if ck, err := c.Cookie(opsCookie); err == nil {
			tok = ck.Value
		}
	}
	if tok == "" {
		return nil, engine.Errorf(engine.KindUnauthorized, "missing_token", "send Authorization: Bearer <ops token>")
	}
	id, err := s.auth.Verify(tok)
	if err != nil {
		return nil, err
	}
	if !id.Ops {
		return nil, errNotOps
	}
	return id, nil
}

// requireOps guards the ops routes.
func (s *Server) requireOps(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := s.opsIdentity(c)
		if err != nil {
			return err
		}
		c.Set("identity", id)
		return next(c)
	}
}
