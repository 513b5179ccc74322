// Package store defines hoop's persistent data model and the interface every
// store backend implements. The embedded default is SQLite (store/sqlite).
//
// The store is the system of record: identities, credentials, sessions, the
// relayed frames of every session (append-only) and the events derived from
// them (statements, faults, policy verdicts, reviews). It knows nothing about
// protocols.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors shared by every backend.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// Dir is the direction of a relayed frame.
type Dir uint8

const (
	// C2S is client to server (consumer to resource).
	C2S Dir = 0
	// S2C is server to client.
	S2C Dir = 1
)

// String returns "c2s" or "s2c", the spelling used in JSON and the ABI.
func (d Dir) String() string {
	if d == S2C {
		return "s2c"
	}
	return "c2s"
}

// Identity kinds.
const (
	KindMachine = "machine"
	KindHuman   = "human"
)

// Identity is a consumer: an agent, a CI job, a BI tool or a person.
type Identity struct {
	ID        string
	Name      string // unique
	Kind      string // KindMachine or KindHuman
	CreatedAt time.Time
	Disabled  bool
}

// Credential binds an identity to one resource role. The secret itself is
// never stored: only its SHA-256 hash and, for SCRAM-SHA-256, the salted
// verifier (StoredKey and ServerKey, RFC 5802).
type Credential struct {
	ID         string
	IdentityID string
	Resource   string
	Role       string
	SecretHash []byte // sha256(secret)

	SCRAMSalt       []byte
	SCRAMIterations int
	SCRAMStoredKey  []byte
	SCRAMServerKey  []byte

	CreatedAt    time.Time
	ExpiresAt    time.Time // zero: never
	RevokedAt    time.Time // zero: not revoked
	RevokeReason string
}

// Active reports whether the credential may be used at now.
func (c Credential) Active(now time.Time) bool {
	return c.RevokedAt.IsZero() && (c.ExpiresAt.IsZero() || now.Before(c.ExpiresAt))
}

// Session statuses.
const (
	StatusConnecting = "connecting"
	StatusLive       = "live"
	StatusEnded      = "ended"
)

// Session end reasons.
const (
	EndClientClosed  = "client_closed"
	EndRevoked       = "revoked"
	EndRotated       = "rotated"
	EndUpstreamError = "upstream_error"
	EndAuthFailed    = "auth_failed"
	EndShutdown      = "shutdown"
	EndPolicy        = "policy"
	EndProtocolError = "protocol_error"
	EndRecordError   = "record_error"
	// EndGatewayRestart marks sessions found open at start-up: the gateway
	// process died (kill -9, crash) while they ran.
	EndGatewayRestart = "gateway_restart"
)

// Session is one client connection through the gateway.
type Session struct {
	ID           string
	CredentialID string
	IdentityID   string
	Identity     string // identity name at connect time
	Kind         string // identity kind at connect time
	Resource     string
	Role         string
	Protocol     string
	ClientAddr   string
	Database     string
	Status       string
	EndReason    string
	StartedAt    time.Time
	EndedAt      time.Time // zero while not ended
	BytesC2S     int64
	BytesS2C     int64
	Statements   int64
	Fault        string // last decoder/plugin fault marked on the session, if any
}

// SessionFilter selects sessions for ListSessions. Zero fields match all.
type SessionFilter struct {
	Status   string
	Identity string
	Resource string
	Limit    int // 0: backend default (500)
}

// Frame is one relayed chunk of bytes in one direction. Seq is assigned by
// the recorder, starts at 1 and increases by one per frame within a session.
type Frame struct {
	Session string
	Seq     int64
	Time    time.Time
	Dir     Dir
	Data    []byte
}

// Event kinds.
const (
	EventStatement = "statement"
	EventFault     = "fault"
	EventBlocked   = "blocked"
	EventHeld      = "held"
	EventApproved  = "approved"
	EventRejected  = "rejected"
	EventAllowed   = "allowed"
)

// Event is something derived from a session's frames: a decoded statement,
// a plugin fault, a policy verdict. Seq numbers events within a session
// (from 1); FrameSeq is the frame the event came from (0 if none).
type Event struct {
	Session  string
	Seq      int64
	FrameSeq int64
	Time     time.Time
	Kind     string
	Text     string
	Rule     string
	Risk     int
	Detail   string
}

// Store is implemented by every backend. All methods are safe for
// concurrent use.
type Store interface {
	CreateIdentity(ctx context.Context, id Identity) error
	IdentityByName(ctx context.Context, name string) (Identity, error)
	IdentityByID(ctx context.Context, id string) (Identity, error)
	ListIdentities(ctx context.Context) ([]Identity, error)

	CreateCredential(ctx context.Context, c Credential) error
	Credential(ctx context.Context, id string) (Credential, error)
	CredentialsOf(ctx context.Context, identityID string) ([]Credential, error)
	// RevokeCredential marks the credential revoked at `at` with reason. It
	// is not an error to revoke an already revoked credential.
	RevokeCredential(ctx context.Context, id string, at time.Time, reason string) error

	CreateSession(ctx context.Context, s Session) error
	// UpdateSession writes status, end reason, end time, counters and fault.
	UpdateSession(ctx context.Context, s Session) error
	Session(ctx context.Context, id string) (Session, error)
	ListSessions(ctx context.Context, f SessionFilter) ([]Session, error)
	// EndDangling marks every session not yet ended as ended with reason,
	// used at start-up after a crash.
	EndDangling(ctx context.Context, reason string, at time.Time) (int, error)

	// Append commits frames and events in one transaction.
	Append(ctx context.Context, frames []Frame, events []Event) error
	// Frames returns up to limit frames of a session with Seq > after, in order.
	Frames(ctx context.Context, session string, after int64, limit int) ([]Frame, error)
	// Events returns up to limit events of a session with Seq > after, in order.
	Events(ctx context.Context, session string, after int64, limit int) ([]Event, error)

	// SetAdminTokenHash stores the hash of the admin token; AdminTokenHash
	// returns it (ErrNotFound if none was set yet).
	SetAdminTokenHash(ctx context.Context, hash []byte) error
	AdminTokenHash(ctx context.Context) ([]byte, error)

	Close() error
}
