package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"hoop.dev/hoop/core/store"
)

// CreateCredential inserts a credential.
func (s *Store) CreateCredential(ctx context.Context, c store.Credential) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO credentials (id, identity_id, resource, role, secret_hash,
		scram_salt, scram_iterations, scram_stored_key, scram_server_key, created_at, expires_at, revoked_at, revoke_reason)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		c.ID, c.IdentityID, c.Resource, c.Role, c.SecretHash, c.SCRAMSalt, c.SCRAMIterations,
		c.SCRAMStoredKey, c.SCRAMServerKey, ts(c.CreatedAt), ts(c.ExpiresAt), ts(c.RevokedAt), c.RevokeReason)
	if err != nil {
		return fmt.Errorf("create credential: %w", err)
	}
	return nil
}

const credentialCols = `id, identity_id, resource, role, secret_hash, scram_salt, scram_iterations,
	scram_stored_key, scram_server_key, created_at, expires_at, revoked_at, revoke_reason`

func scanCredential(row interface{ Scan(...any) error }) (store.Credential, error) {
	var c store.Credential
	var created, expires, revoked int64
	err := row.Scan(&c.ID, &c.IdentityID, &c.Resource, &c.Role, &c.SecretHash, &c.SCRAMSalt, &c.SCRAMIterations,
		&c.SCRAMStoredKey, &c.SCRAMServerKey, &created, &expires, &revoked, &c.RevokeReason)
	c.CreatedAt, c.ExpiresAt, c.RevokedAt = tm(created), tm(expires), tm(revoked)
	return c, err
}

// Credential returns one credential by id.
func (s *Store) Credential(ctx context.Context, id string) (store.Credential, error) {
	c, err := scanCredential(s.r.QueryRowContext(ctx, `SELECT `+credentialCols+` FROM credentials WHERE id = ?`, id))
	if err != nil {
		return c, notFound(err, "credential "+id)
	}
	return c, nil
}

// CredentialsOf returns an identity's credentials, oldest first.
func (s *Store) CredentialsOf(ctx context.Context, identityID string) ([]store.Credential, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+credentialCols+` FROM credentials WHERE identity_id = ? ORDER BY created_at, id`, identityID)
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	defer rows.Close()
	var out []store.Credential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, fmt.Errorf("list credentials: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// RevokeCredential marks a credential revoked (idempotent: the first
// revocation's time and reason are kept).
func (s *Store) RevokeCredential(ctx context.Context, id string, at time.Time, reason string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE credentials SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END,
		revoke_reason = CASE WHEN revoked_at = 0 THEN ? ELSE revoke_reason END WHERE id = ?`, ts(at), reason, id)
	if err != nil {
		return fmt.Errorf("revoke credential: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("revoke credential %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// CreateSession inserts a session.
func (s *Store) CreateSession(ctx context.Context, x store.Session) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO sessions (id, credential_id, identity_id, identity, kind, resource, role,
		protocol, client_addr, database, status, end_reason, started_at, ended_at, bytes_c2s, bytes_s2c, statements, fault)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		x.ID, x.CredentialID, x.IdentityID, x.Identity, x.Kind, x.Resource, x.Role, x.Protocol, x.ClientAddr,
		x.Database, x.Status, x.EndReason, ts(x.StartedAt), ts(x.EndedAt), x.BytesC2S, x.BytesS2C, x.Statements, x.Fault)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// UpdateSession writes the mutable fields of a session.
func (s *Store) UpdateSession(ctx context.Context, x store.Session) error {
	_, err := s.w.ExecContext(ctx, `UPDATE sessions SET status = ?, end_reason = ?, ended_at = ?, bytes_c2s = ?,
		bytes_s2c = ?, statements = ?, fault = ?, database = ? WHERE id = ?`,
		x.Status, x.EndReason, ts(x.EndedAt), x.BytesC2S, x.BytesS2C, x.Statements, x.Fault, x.Database, x.ID)
	if err != nil {
		return fmt.Errorf("update session: %w", err)
	}
	return nil
}

const sessionCols = `id, credential_id, identity_id, identity, kind, resource, role, protocol, client_addr, database,
	status, end_reason, started_at, ended_at, bytes_c2s, bytes_s2c, statements, fault`

func scanSession(row interface{ Scan(...any) error }) (store.Session, error) {
	var x store.Session
	var started, ended int64
	err := row.Scan(&x.ID, &x.CredentialID, &x.IdentityID, &x.Identity, &x.Kind, &x.Resource, &x.Role, &x.Protocol,
		&x.ClientAddr, &x.Database, &x.Status, &x.EndReason, &started, &ended, &x.BytesC2S, &x.BytesS2C, &x.Statements, &x.Fault)
	x.StartedAt, x.EndedAt = tm(started), tm(ended)
	return x, err
}

// Session returns one session.
func (s *Store) Session(ctx context.Context, id string) (store.Session, error) {
	x, err := scanSession(s.r.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = ?`, id))
	if err != nil {
		return x, notFound(err, "session "+id)
	}
	return x, nil
}

// ListSessions returns sessions matching f, newest first.
func (s *Store) ListSessions(ctx context.Context, f store.SessionFilter) ([]store.Session, error) {
	var where []string
	var args []any
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, f.Status)
	}
	if f.Identity != "" {
		where = append(where, "identity = ?")
		args = append(args, f.Identity)
	}
	if f.Resource != "" {
		where = append(where, "resource = ?")
		args = append(args, f.Resource)
	}
	q := `SELECT ` + sessionCols + ` FROM sessions`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 500
	}
	q += " ORDER BY started_at DESC, id DESC LIMIT ?"
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		x, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}
