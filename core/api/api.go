// Package api is hoop's HTTP API: identities and credentials, sessions and
// their events, the live session stream and the plugin modules the browser
// view loads. Every route under /api and /plugins requires the admin bearer
// token; only /healthz does not.
package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"hoop.dev/hoop/core/config"
	"hoop.dev/hoop/core/identity"
	"hoop.dev/hoop/core/session"
	"hoop.dev/hoop/core/store"
)

// Streamer serves a session's live stream (the stream hub).
type Streamer interface {
	ServeSSE(w http.ResponseWriter, r *http.Request, s store.Session)
}

// Plugin is a loaded plugin module as the API lists and serves it.
type Plugin struct {
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`
	Version   string   `json:"version"`
	Protocols []string `json:"protocols"`
	Digest    string   `json:"digest"`
	Module    []byte   `json:"-"`
}

// Deps are what the API serves.
type Deps struct {
	Config    *config.Config
	Store     store.Store
	Identity  *identity.Service
	Sessions  *session.Registry
	Stream    Streamer        // nil: no live stream
	Web       http.Handler    // nil: no browser view
	Plugins   func() []Plugin // nil: none
	TokenHash []byte          // sha256 of the admin token
	Log       *slog.Logger
	// Extra registers further routes (reviews) on the authenticated mux.
	Extra func(mux *http.ServeMux)
}

// Handler returns the API's HTTP handler.
func Handler(d Deps) http.Handler {
	a := &api{d: d}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	authed := http.NewServeMux()
	authed.HandleFunc("POST /api/identities", a.createIdentity)
	authed.HandleFunc("GET /api/identities", a.listIdentities)
	authed.HandleFunc("POST /api/identities/{name}/rotate", a.rotate)
	authed.HandleFunc("POST /api/identities/{name}/revoke", a.revoke)
	authed.HandleFunc("GET /api/sessions", a.listSessions)
	authed.HandleFunc("GET /api/sessions/{id}", a.getSession)
	authed.HandleFunc("GET /api/sessions/{id}/events", a.sessionEvents)
	authed.HandleFunc("GET /api/sessions/{id}/stream", a.stream)
	authed.HandleFunc("GET /api/plugins", a.listPlugins)
	authed.HandleFunc("GET /plugins/{file}", a.pluginModule)
	if d.Extra != nil {
		d.Extra(authed)
	}
	protected := a.auth(authed)
	mux.Handle("/api/", protected)
	mux.Handle("/plugins/", protected)
	if d.Web != nil {
		mux.Handle("/", d.Web)
	}
	return mux
}

type api struct{ d Deps }

// auth checks the bearer token in constant time.
func (a *api) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		h := sha256.Sum256([]byte(tok))
		if !ok || tok == "" || subtle.ConstantTimeCompare(h[:], a.d.TokenHash) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hoop"`)
			WriteError(w, http.StatusUnauthorized, "missing or invalid token: send Authorization: Bearer <admin token>")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// WriteJSON writes v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// WriteError writes {"error": msg}.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}

// ErrorStatus maps an error to an HTTP status.
func ErrorStatus(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrExists):
		return http.StatusConflict
	case errors.Is(err, identity.ErrInvalid):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// DecodeBody decodes a JSON request body strictly (max 1 MiB).
func DecodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		WriteError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

type createReq struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Resource string `json:"resource"`
	Role     string `json:"role"`
	Expires  string `json:"expires"` // Go duration, "" = never
}

// IssuedJSON is a credential with its secret and a ready connection string.
type IssuedJSON struct {
	identity.Issued
	DSN string `json:"dsn"`
}

func (a *api) withDSN(iss identity.Issued) IssuedJSON {
	return IssuedJSON{Issued: iss, DSN: a.dsn(iss)}
}

// dsn builds a libpq URL for the credential.
func (a *api) dsn(iss identity.Issued) string {
	cfg := a.d.Config
	host, port, _ := net.SplitHostPort(cfg.Postgres.Listen)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	db := "postgres"
	if r := cfg.ResourceByName(iss.Resource); r != nil && r.Database != "" {
		db = r.Database
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(iss.Identity, iss.Secret), Host: net.JoinHostPort(host, port), Path: "/" + db}
	if cfg.Postgres.TLSCert != "" {
		u.RawQuery = "sslmode=require"
	}
	return u.String()
}

func (a *api) createIdentity(w http.ResponseWriter, r *http.Request) {
	var req createReq
	if !DecodeBody(w, r, &req) {
		return
	}
	var exp time.Duration
	if req.Expires != "" {
		d, err := time.ParseDuration(req.Expires)
		if err != nil || d <= 0 {
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("expires %q is not a positive duration like 720h", req.Expires))
			return
		}
		exp = d
	}
	iss, err := a.d.Identity.Create(r.Context(), identity.CreateRequest{Name: req.Name, Kind: req.Kind, Resource: req.Resource, Role: req.Role, Expires: exp})
	if err != nil {
		WriteError(w, ErrorStatus(err), err.Error())
		return
	}
	a.d.Log.Info("credential created", "identity", iss.Identity, "credential", iss.CredentialID, "resource", iss.Resource, "role", iss.Role)
	WriteJSON(w, http.StatusCreated, a.withDSN(iss))
}

// CredentialJSON is a credential without secrets.
type CredentialJSON struct {
	ID           string `json:"id"`
	Resource     string `json:"resource"`
	Role         string `json:"role"`
	CreatedAt    string `json:"created_at"`
	ExpiresAt    string `json:"expires_at"`
	RevokedAt    string `json:"revoked_at"`
	RevokeReason string `json:"revoke_reason"`
	Status       string `json:"status"`
}

// IdentityJSON is an identity as listed.
type IdentityJSON struct {
	ID          string           `json:"id"`
	Name        string           `json:"name"`
	Kind        string           `json:"kind"`
	CreatedAt   string           `json:"created_at"`
	Credentials []CredentialJSON `json:"credentials"`
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func (a *api) listIdentities(w http.ResponseWriter, r *http.Request) {
	views, err := a.d.Identity.List(r.Context())
	if err != nil {
		WriteError(w, ErrorStatus(err), err.Error())
		return
	}
	now := time.Now()
	out := []IdentityJSON{}
	for _, v := range views {
		ij := IdentityJSON{ID: v.ID, Name: v.Name, Kind: v.Kind, CreatedAt: fmtTime(v.CreatedAt), Credentials: []CredentialJSON{}}
		for _, c := range v.Credentials {
			st := "active"
			switch {
			case !c.RevokedAt.IsZero():
				st = c.RevokeReason
			case !c.Active(now):
				st = "expired"
			}
			ij.Credentials = append(ij.Credentials, CredentialJSON{ID: c.ID, Resource: c.Resource, Role: c.Role,
				CreatedAt: fmtTime(c.CreatedAt), ExpiresAt: fmtTime(c.ExpiresAt), RevokedAt: fmtTime(c.RevokedAt),
				RevokeReason: c.RevokeReason, Status: st})
		}
		out = append(out, ij)
	}
	WriteJSON(w, http.StatusOK, map[string]any{"identities": out})
}

type selectorReq struct {
	Resource string `json:"resource"`
	Role     string `json:"role"`
}

func (a *api) selector(w http.ResponseWriter, r *http.Request) (identity.Selector, bool) {
	var req selectorReq
	if r.ContentLength != 0 {
		if !DecodeBody(w, r, &req) {
			return identity.Selector{}, false
		}
	}
	return identity.Selector{Resource: req.Resource, Role: req.Role}, true
}

func (a *api) rotate(w http.ResponseWriter, r *http.Request) {
	sel, ok := a.selector(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	issued, ended, err := a.d.Identity.Rotate(r.Context(), name, sel)
	if err != nil {
		WriteError(w, ErrorStatus(err), err.Error())
		return
	}
	out := []IssuedJSON{}
	for _, iss := range issued {
		out = append(out, a.withDSN(iss))
	}
	a.d.Log.Info("credentials rotated", "identity", name, "count", len(issued), "sessions_ended", ended)
	WriteJSON(w, http.StatusOK, map[string]any{"issued": out, "sessions_ended": ended})
}

func (a *api) revoke(w http.ResponseWriter, r *http.Request) {
	sel, ok := a.selector(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	ids, ended, err := a.d.Identity.Revoke(r.Context(), name, sel)
	if err != nil {
		WriteError(w, ErrorStatus(err), err.Error())
		return
	}
	a.d.Log.Info("credentials revoked", "identity", name, "credentials", ids, "sessions_ended", ended)
	WriteJSON(w, http.StatusOK, map[string]any{"revoked": ids, "sessions_ended": ended})
}

// SessionJSON is a session as the API shows it.
type SessionJSON struct {
	ID         string `json:"id"`
	Identity   string `json:"identity"`
	Kind       string `json:"kind"`
	Credential string `json:"credential_id"`
	Resource   string `json:"resource"`
	Role       string `json:"role"`
	Protocol   string `json:"protocol"`
	ClientAddr string `json:"client_addr"`
	Database   string `json:"database"`
	Status     string `json:"status"`
	EndReason  string `json:"end_reason"`
	StartedAt  string `json:"started_at"`
	EndedAt    string `json:"ended_at"`
	BytesC2S   int64  `json:"bytes_c2s"`
	BytesS2C   int64  `json:"bytes_s2c"`
	Statements int64  `json:"statements"`
	Fault      string `json:"fault"`
}

// live overlays the registry's live counters on a stored session.
func (a *api) live(s store.Session) store.Session {
	if s.Status != store.StatusEnded {
		if l, ok := a.d.Sessions.Get(s.ID); ok {
			return l.Meta()
		}
	}
	return s
}

func sessionJSON(s store.Session) SessionJSON {
	return SessionJSON{ID: s.ID, Identity: s.Identity, Kind: s.Kind, Credential: s.CredentialID, Resource: s.Resource,
		Role: s.Role, Protocol: s.Protocol, ClientAddr: s.ClientAddr, Database: s.Database, Status: s.Status,
		EndReason: s.EndReason, StartedAt: fmtTime(s.StartedAt), EndedAt: fmtTime(s.EndedAt), BytesC2S: s.BytesC2S,
		BytesS2C: s.BytesS2C, Statements: s.Statements, Fault: s.Fault}
}

func (a *api) listSessions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.SessionFilter{Status: q.Get("status"), Identity: q.Get("identity"), Resource: q.Get("resource")}
	switch f.Status {
	case "", store.StatusConnecting, store.StatusLive, store.StatusEnded:
	default:
		WriteError(w, http.StatusBadRequest, "status must be connecting, live or ended")
		return
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 10000 {
			WriteError(w, http.StatusBadRequest, "limit must be 1..10000")
			return
		}
		f.Limit = n
	}
	list, err := a.d.Store.ListSessions(r.Context(), f)
	if err != nil {
		WriteError(w, ErrorStatus(err), err.Error())
		return
	}
	out := make([]SessionJSON, 0, len(list))
	for _, s := range list {
		out = append(out, sessionJSON(a.live(s)))
	}
	WriteJSON(w, http.StatusOK, map[string]any{"sessions": out})
}

func (a *api) session(w http.ResponseWriter, r *http.Request) (store.Session, bool) {
	s, err := a.d.Store.Session(r.Context(), r.PathValue("id"))
	if err != nil {
		WriteError(w, ErrorStatus(err), err.Error())
		return s, false
	}
	return a.live(s), true
}

func (a *api) getSession(w http.ResponseWriter, r *http.Request) {
	if s, ok := a.session(w, r); ok {
		WriteJSON(w, http.StatusOK, sessionJSON(s))
	}
}

// EventJSON is a session event.
type EventJSON struct {
	Seq      int64  `json:"seq"`
	FrameSeq int64  `json:"frame_seq"`
	Time     string `json:"t"`
	Kind     string `json:"kind"`
	Text     string `json:"text"`
	Rule     string `json:"rule,omitempty"`
	Risk     int    `json:"risk,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// EventToJSON converts a stored event.
func EventToJSON(e store.Event) EventJSON {
	return EventJSON{Seq: e.Seq, FrameSeq: e.FrameSeq, Time: fmtTime(e.Time), Kind: e.Kind, Text: e.Text, Rule: e.Rule, Risk: e.Risk, Detail: e.Detail}
}

func (a *api) sessionEvents(w http.ResponseWriter, r *http.Request) {
	s, ok := a.session(w, r)
	if !ok {
		return
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	evs, err := a.d.Store.Events(r.Context(), s.ID, after, limit)
	if err != nil {
		WriteError(w, ErrorStatus(err), err.Error())
		return
	}
	out := make([]EventJSON, 0, len(evs))
	for _, e := range evs {
		out = append(out, EventToJSON(e))
	}
	WriteJSON(w, http.StatusOK, map[string]any{"events": out})
}

func (a *api) stream(w http.ResponseWriter, r *http.Request) {
	s, ok := a.session(w, r)
	if !ok {
		return
	}
	if a.d.Stream == nil {
		WriteError(w, http.StatusNotImplemented, "live stream is not available")
		return
	}
	a.d.Stream.ServeSSE(w, r, s)
}

func (a *api) plugins() []Plugin {
	if a.d.Plugins == nil {
		return nil
	}
	return a.d.Plugins()
}

func (a *api) listPlugins(w http.ResponseWriter, r *http.Request) {
	out := []Plugin{}
	out = append(out, a.plugins()...)
	WriteJSON(w, http.StatusOK, map[string]any{"plugins": out})
}

func (a *api) pluginModule(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("file"), ".wasm")
	if !ok {
		WriteError(w, http.StatusNotFound, "plugin modules are served as /plugins/{name}.wasm")
		return
	}
	for _, p := range a.plugins() {
		if p.Name == name {
			w.Header().Set("Content-Type", "application/wasm")
			w.Header().Set("X-Hoop-Digest", p.Digest)
			w.Header().Set("ETag", `"`+p.Digest+`"`)
			w.Header().Set("Cache-Control", "private, no-cache")
			http.ServeContent(w, r, name+".wasm", time.Time{}, strings.NewReader(string(p.Module)))
			return
		}
	}
	WriteError(w, http.StatusNotFound, fmt.Sprintf("no plugin named %q", name))
}
