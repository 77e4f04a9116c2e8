// Package api is Parley's HTTP side on echo v4: authentication, the REST
// routes, and (later) the realtime transports and operations pages. Handlers
// are thin: bind, call the engine, render.
package api

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"parley/engine"
	"parley/internal/notify"
	"parley/internal/pusher"
)

// Config wires the API to the engine.
type Config struct {
	Service   *engine.Service
	JWTSecret []byte
	Logger    *slog.Logger
	// Ready reports whether the node can serve (for /readyz).
	Ready func() error
	// Realtime configures WebSocket, SSE, presence and typing; nil turns
	// them off.
	Realtime *Realtime
	// SendRate and SendBurst limit each user's sends (per second, token
	// bucket); a SendRate of 0 turns the limit off.
	SendRate  float64
	SendBurst int
	// Notifications serves the notification routes; Ops the stats,
	// dashboard and metrics (ops.go).
	Notifications *notify.NotificationService
	Ops           *Ops
	// Dev turns on POST /dev/token (dev.go): sign in as anyone. Never in production.
	Dev bool
	// MaxAttachmentBytes bounds one upload (0: 10 MiB).
	MaxAttachmentBytes int64
}

// Server is the HTTP API.
type Server struct {
	sendLimit *keyedLimiter // nil: sends are not limited
	echo      *echo.Echo
	svc       *engine.Service
	auth      *Authenticator
	logger    *slog.Logger
	ready     func() error

	maxAttachment int64
	// uploads bounds the uploads and downloads in progress at once;
	// transfers counts them per user (at most maxUserTransfers each);
	// uploadLimit bounds each user's uploads per second.
	uploads     chan struct{}
	transferMu  sync.Mutex
	transfers   map[string]int
	uploadLimit *keyedLimiter

	rt             *Realtime
	pusher         *pusher.Server // nil with realtime off
	origins        pusher.OriginPolicy
	typingLimit    *keyedLimiter
	heartbeatLimit *keyedLimiter

	ops opsParts // notifications, stats, metrics (ops.go)
}

// New builds the API and registers its routes.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("component", "api")
	}
	e := echo.New()
	e.JSONSerializer = jsonSerializer{}
	e.HideBanner, e.HidePort = true, true
	if cfg.MaxAttachmentBytes <= 0 {
		cfg.MaxAttachmentBytes = 10 << 20
	}
	s := &Server{echo: e, svc: cfg.Service, auth: NewAuthenticator(cfg.JWTSecret), logger: cfg.Logger, ready: cfg.Ready,
		maxAttachment: cfg.MaxAttachmentBytes, uploads: make(chan struct{}, maxTransfers), transfers: map[string]int{},
		uploadLimit: newKeyedLimiter(2, 20, 100000),
		rt:          cfg.Realtime.withDefaults(), typingLimit: newKeyedLimiter(3, 3, 100000), heartbeatLimit: newKeyedLimiter(1, 5, 100000)}
	if s.rt != nil {
		s.pusher = pusher.New(s.rt.Config, cfg.Service, cfg.Logger.With("part", "pusher"))
		s.origins = pusher.NewOriginPolicy(s.rt.AllowedOrigins)
	}
	if cfg.SendRate > 0 {
		s.sendLimit = newKeyedLimiter(cfg.SendRate, max(1, cfg.SendBurst), 100000)
	}
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.Recover())
	s.initOps(cfg)
	s.routes()
	if cfg.Dev {
		s.devRoutes()
	}
	return s
}

// ServeHTTP makes the Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// Routes lists the registered routes as "METHOD path" (for the OpenAPI check).
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }

func (s *Server) routes() {
	e := s.echo
	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", s.readyz)

	// requireUser is set per route, not with Group.Use, which would answer
	// 404 instead of 405 for a wrong method on a known path.
	api := &authGroup{g: e.Group("/api"), mw: s.requireUser}
	api.POST("/conversations", s.createConversation)
	api.GET("/conversations", s.listConversations)
	api.GET("/conversations/:id", s.getConversation)
	api.POST("/conversations/:id/participants", s.addParticipants)
	api.DELETE("/conversations/:id/participants/:user_id", s.removeParticipant)
	api.PATCH("/conversations/:id/settings", s.updateSettings)

	api.GET("/search", s.search)
	api.POST("/attachments", s.upload)
	api.GET("/attachments/:id", s.download)
	api.GET("/messages/:conversation_id", s.history)
	api.POST("/messages/:conversation_id", s.send)
	api.GET("/messages/:conversation_id/delta", s.delta)
	api.POST("/messages/:conversation_id/read", s.markRead)
	api.PATCH("/messages/:conversation_id/:message_id", s.edit)
	api.DELETE("/messages/:conversation_id/:message_id", s.deleteMessage)
	api.GET("/messages/:conversation_id/:message_id/reads", s.receipts)
	api.GET("/messages/:conversation_id/:message_id/replies", s.replies)
	api.PUT("/messages/:conversation_id/:message_id/reactions/:emoji", s.react)
	api.DELETE("/messages/:conversation_id/:message_id/reactions/:emoji", s.unreact)

	// Realtime: Pusher protocol 7 WebSocket, its auth endpoint, SSE,
	// presence heartbeat and typing for clients without a socket.
	e.GET("/app/:key", s.websocket)
	e.GET("/api/config", s.clientConfig, s.cors)
	e.OPTIONS("/api/config", noContent, s.cors)
	e.POST("/broadcasting/auth", s.broadcastingAuth, s.cors, s.requireUser)
	e.OPTIONS("/broadcasting/auth", noContent, s.cors)
	e.OPTIONS("/api/stream", noContent, s.cors)
	e.GET("/api/stream", s.stream, s.cors, s.requireUser)
	api.POST("/messages/presence/heartbeat", s.heartbeat)
	api.POST("/messages/:conversation_id/typing", s.typing)

	s.pusherRoutes()
	s.notificationRoutes(api)
	s.opsRoutes()
}

func (s *Server) readyz(c echo.Context) error {
	if s.ready != nil {
		if err := s.ready(); err != nil {
			body := map[string]string{"status": "unavailable", "reason": "not_ready", "detail": err.Error()}
			var nr *NotReady
			if errors.As(err, &nr) {
				body["reason"], body["detail"] = nr.Reason, nr.Detail
			}
			return c.JSON(http.StatusServiceUnavailable, body)
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// authGroup registers routes that all carry one middleware.
type authGroup struct {
	g  *echo.Group
	mw echo.MiddlewareFunc
}

func (a *authGroup) GET(path string, h echo.HandlerFunc)    { a.g.GET(path, h, a.mw) }
func (a *authGroup) POST(path string, h echo.HandlerFunc)   { a.g.POST(path, h, a.mw) }
func (a *authGroup) PUT(path string, h echo.HandlerFunc)    { a.g.PUT(path, h, a.mw) }
func (a *authGroup) PATCH(path string, h echo.HandlerFunc)  { a.g.PATCH(path, h, a.mw) }
func (a *authGroup) DELETE(path string, h echo.HandlerFunc) { a.g.DELETE(path, h, a.mw) }
