// Package sqlite is the embedded default store: one SQLite database in WAL
// mode (modernc.org/sqlite, no cgo). Writes go through a single connection,
// reads through a small pool, so readers never wait for the recorder.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"hoop.dev/hoop/core/store"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options tune the store.
type Options struct {
	// Sync makes each commit wait for fsync (synchronous=FULL). Without it
	// (synchronous=NORMAL in WAL mode) a commit survives a crash of the
	// process but not of the machine.
	Sync bool
}

// Store implements store.Store on SQLite.
type Store struct {
	w *sql.DB // one connection: all writes
	r *sql.DB // readers

	// The recorder's inserts, prepared once (preparing per transaction
	// was a tenth of the gateway's CPU per statement).
	insFrameChunk, insEventChunk *sql.Stmt

	mu                 sync.Mutex       // guards the caches below (Append)
	frameSeq, eventSeq map[string]int64 // last stored seq per session
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string, opt Options) (*Store, error) {
	sync := "NORMAL"
	if opt.Sync {
		sync = "FULL"
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(" + sync + ")", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	r.SetMaxOpenConns(4)
	s := &Store{w: w, r: r, frameSeq: map[string]int64{}, eventSeq: map[string]int64{}}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.insFrameChunk, err = w.PrepareContext(ctx, `INSERT INTO frame_chunks (session, first_seq, last_seq, data) VALUES (?,?,?,?)`); err != nil {
		s.Close()
		return nil, fmt.Errorf("prepare store: %w", err)
	}
	if s.insEventChunk, err = w.PrepareContext(ctx, `INSERT INTO event_chunks (session, first_seq, last_seq, data) VALUES (?,?,?,?)`); err != nil {
		s.Close()
		return nil, fmt.Errorf("prepare store: %w", err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return errors.Join(s.w.Close(), s.r.Close()) }

// migrations are applied in order; PRAGMA user_version records how many ran.
// Never edit a migration that has shipped: append a new one.
var migrations = []string{
	`CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
	CREATE TABLE identities (
		id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
		created_at INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);
	CREATE TABLE credentials (
		id TEXT PRIMARY KEY, identity_id TEXT NOT NULL REFERENCES identities(id),
		resource TEXT NOT NULL, role TEXT NOT NULL, secret_hash BLOB NOT NULL,
		scram_salt BLOB, scram_iterations INTEGER, scram_stored_key BLOB, scram_server_key BLOB,
		created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL DEFAULT 0,
		revoked_at INTEGER NOT NULL DEFAULT 0, revoke_reason TEXT NOT NULL DEFAULT '');
	CREATE INDEX credentials_identity ON credentials(identity_id);
	CREATE TABLE sessions (
		id TEXT PRIMARY KEY, credential_id TEXT NOT NULL, identity_id TEXT NOT NULL,
		identity TEXT NOT NULL, kind TEXT NOT NULL, resource TEXT NOT NULL, role TEXT NOT NULL,
		protocol TEXT NOT NULL, client_addr TEXT NOT NULL, database TEXT NOT NULL,
		status TEXT NOT NULL, end_reason TEXT NOT NULL DEFAULT '',
		started_at INTEGER NOT NULL, ended_at INTEGER NOT NULL DEFAULT 0,
		bytes_c2s INTEGER NOT NULL DEFAULT 0, bytes_s2c INTEGER NOT NULL DEFAULT 0,
		statements INTEGER NOT NULL DEFAULT 0, fault TEXT NOT NULL DEFAULT '');
	CREATE INDEX sessions_started ON sessions(started_at);
	CREATE INDEX sessions_status ON sessions(status);
	CREATE TABLE frame_chunks (
		session TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
		data BLOB NOT NULL, PRIMARY KEY (session, first_seq));
	CREATE TABLE event_chunks (
		session TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
		data BLOB NOT NULL, PRIMARY KEY (session, first_seq));`,
	`CREATE TABLE reviews (
		id TEXT PRIMARY KEY, session TEXT NOT NULL, identity TEXT NOT NULL, kind TEXT NOT NULL,
		resource TEXT NOT NULL, role TEXT NOT NULL, statement TEXT NOT NULL, risk INTEGER NOT NULL,
		policy TEXT NOT NULL, rule TEXT NOT NULL, reason TEXT NOT NULL, status TEXT NOT NULL,
		decided_by TEXT NOT NULL DEFAULT '', note TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL, decided_at INTEGER NOT NULL DEFAULT 0);
	CREATE INDEX reviews_status ON reviews(status, created_at);`,
}

func (s *Store) migrate(ctx context.Context) error {
	var v int
	if err := s.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("store schema version %d is newer than this hoop (%d): upgrade hoop", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate store: %w", err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate store to version %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate store: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate store: %w", err)
		}
	}
	return nil
}

func ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func tm(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// CreateIdentity inserts an identity; ErrExists if the name is taken.
func (s *Store) CreateIdentity(ctx context.Context, id store.Identity) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO identities (id, name, kind, created_at, disabled) VALUES (?,?,?,?,?)`,
		id.ID, id.Name, id.Kind, ts(id.CreatedAt), id.Disabled)
	if isUnique(err) {
		return fmt.Errorf("create identity %q: %w", id.Name, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create identity: %w", err)
	}
	return nil
}

const identityCols = `id, name, kind, created_at, disabled`

func scanIdentity(row interface{ Scan(...any) error }) (store.Identity, error) {
	var i store.Identity
	var created int64
	err := row.Scan(&i.ID, &i.Name, &i.Kind, &created, &i.Disabled)
	i.CreatedAt = tm(created)
	return i, err
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// IdentityByName looks an identity up by name.
func (s *Store) IdentityByName(ctx context.Context, name string) (store.Identity, error) {
	i, err := scanIdentity(s.r.QueryRowContext(ctx, `SELECT `+identityCols+` FROM identities WHERE name = ?`, name))
	if err != nil {
		return i, notFound(err, "identity "+name)
	}
	return i, nil
}

// IdentityByID looks an identity up by id.
func (s *Store) IdentityByID(ctx context.Context, id string) (store.Identity, error) {
	i, err := scanIdentity(s.r.QueryRowContext(ctx, `SELECT `+identityCols+` FROM identities WHERE id = ?`, id))
	if err != nil {
		return i, notFound(err, "identity "+id)
	}
	return i, nil
}

// ListIdentities returns all identities by name.
func (s *Store) ListIdentities(ctx context.Context) ([]store.Identity, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+identityCols+` FROM identities ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	defer rows.Close()
	var out []store.Identity
	for rows.Next() {
		i, err := scanIdentity(rows)
		if err != nil {
			return nil, fmt.Errorf("list identities: %w", err)
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// SetAdminTokenHash stores the admin token's hash.
func (s *Store) SetAdminTokenHash(ctx context.Context, hash []byte) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('admin_token_hash', ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, hash)
	if err != nil {
		return fmt.Errorf("store admin token hash: %w", err)
	}
	return nil
}

// AdminTokenHash returns the admin token's hash or ErrNotFound.
func (s *Store) AdminTokenHash(ctx context.Context) ([]byte, error) {
	var h []byte
	err := s.r.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'admin_token_hash'`).Scan(&h)
	if err != nil {
		return nil, notFound(err, "admin token")
	}
	return h, nil
}
