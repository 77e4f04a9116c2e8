package api

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"parley/engine"
	"parley/internal/pusher"
)

// authRequest is what pusher-js posts to the auth endpoint (as a form) or
// what other clients send as JSON.
type authRequest struct {
	SocketID    string `json:"socket_id"`
	ChannelName string `json:"channel_name"`
}

// AuthResponse is the answer to /broadcasting/auth: Pusher's
// "<key>:<signature>" and the signed channel_data naming the user.
type AuthResponse struct {
	Auth        string `json:"auth"`
	ChannelData string `json:"channel_data,omitempty"`
}

var errBadSocketID = engine.Errorf(engine.KindMalformed, "invalid_socket_id", "socket_id must look like 123.456")

// broadcastingAuth serves POST /broadcasting/auth: it signs a subscription
// to a channel the caller may join (participants for a conversation's
// channels, the user themself for private-user, anyone for
// presence-messaging) and answers 403 for anything else.
func (s *Server) broadcastingAuth(c echo.Context) error {
	rt := s.rt
	if rt == nil {
		return errRealtimeOff
	}
	req, err := readAuthRequest(c)
	if err != nil {
		return err
	}
	if !pusher.ValidSocketID(req.SocketID) {
		return errBadSocketID
	}
	id := identity(c)
	ch, err := s.svc.AuthorizeChannel(c.Request().Context(), id.UserID, req.ChannelName)
	if err != nil {
		if errors.Is(err, engine.ErrInvalidChannel) {
			return engine.ErrChannelForbidden
		}
		return err
	}
	cd := pusher.ChannelData{UserID: id.UserID}
	if ch.Presence() {
		cd.UserInfo = userInfo(id)
	}
	raw, err := engine.Marshal(cd)
	if err != nil {
		return err
	}
	data := string(raw)
	return c.JSON(http.StatusOK, AuthResponse{Auth: rt.AppKey + ":" + pusher.SignChannel(rt.AppSecret, req.SocketID, ch.Name, data), ChannelData: data})
}

// readAuthRequest reads socket_id and channel_name from a JSON or form body.
func readAuthRequest(c echo.Context) (authRequest, error) {
	var req authRequest
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, MaxRequestBytes))
	if err != nil {
		return req, engine.Errorf(engine.KindTooLarge, "request_too_large", "request bodies are limited to %d bytes", MaxRequestBytes)
	}
	ct, _, _ := mime.ParseMediaType(c.Request().Header.Get("Content-Type"))
	if ct == "application/json" {
		if json.Unmarshal(body, &req) != nil {
			return req, engine.Errorf(engine.KindMalformed, "malformed_json", "the request body is not valid JSON")
		}
	} else {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return req, engine.Errorf(engine.KindMalformed, "malformed_form", "the request body is not a valid form")
		}
		req.SocketID, req.ChannelName = form.Get("socket_id"), form.Get("channel_name")
	}
	if req.ChannelName == "" {
		return req, engine.Errorf(engine.KindMalformed, "channel_name_required", "channel_name is required")
	}
	return req, nil
}

// userInfo is what presence shows about a user: their id and the token's
// name and avatar claims.
func userInfo(id *Identity) json.RawMessage {
	info := map[string]string{"id": id.UserID}
	if id.Name != "" {
		info["name"] = id.Name
	}
	if id.Avatar != "" {
		info["avatar"] = id.Avatar
	}
	raw, _ := engine.Marshal(info)
	return raw
}
