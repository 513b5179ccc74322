package sqlite

import (
	"context"
	"fmt"
	"time"

	"hoop.dev/hoop/core/store"
)

// CreateReview inserts a pending review.
func (s *Store) CreateReview(ctx context.Context, r store.Review) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO reviews (id, session, identity, kind, resource, role, statement, risk,
		policy, rule, reason, status, decided_by, note, created_at, decided_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.ID, r.Session, r.Identity, r.Kind, r.Resource, r.Role, r.Statement, r.Risk, r.Policy, r.Rule, r.Reason,
		r.Status, r.DecidedBy, r.Note, ts(r.CreatedAt), ts(r.DecidedAt))
	if err != nil {
		return fmt.Errorf("create review: %w", err)
	}
	return nil
}

// DecideReview moves a pending review to status.
func (s *Store) DecideReview(ctx context.Context, id, status, by, note string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE reviews SET status = ?, decided_by = ?, note = ?, decided_at = ?
		WHERE id = ? AND status = 'pending'`, status, by, note, ts(at), id)
	if err != nil {
		return fmt.Errorf("decide review: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	r, err := s.Review(ctx, id)
	if err != nil {
		return err
	}
	return fmt.Errorf("review %s is already %s: %w", id, r.Status, store.ErrExists)
}

const reviewCols = `id, session, identity, kind, resource, role, statement, risk, policy, rule, reason, status,
	decided_by, note, created_at, decided_at`

func scanReview(row interface{ Scan(...any) error }) (store.Review, error) {
	var r store.Review
	var created, decided int64
	err := row.Scan(&r.ID, &r.Session, &r.Identity, &r.Kind, &r.Resource, &r.Role, &r.Statement, &r.Risk, &r.Policy,
		&r.Rule, &r.Reason, &r.Status, &r.DecidedBy, &r.Note, &created, &decided)
	r.CreatedAt, r.DecidedAt = tm(created), tm(decided)
	return r, err
}

// Review returns one review.
func (s *Store) Review(ctx context.Context, id string) (store.Review, error) {
	r, err := scanReview(s.r.QueryRowContext(ctx, `SELECT `+reviewCols+` FROM reviews WHERE id = ?`, id))
	if err != nil {
		return r, notFound(err, "review "+id)
	}
	return r, nil
}

// ListReviews returns reviews newest first.
func (s *Store) ListReviews(ctx context.Context, status string, limit int) ([]store.Review, error) {
	if limit <= 0 {
		limit = 500
	}
	q := `SELECT ` + reviewCols + ` FROM reviews`
	args := []any{}
	if status != "" {
		q += ` WHERE status = ?`
		args = append(args, status)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list reviews: %w", err)
	}
	defer rows.Close()
	var out []store.Review
	for rows.Next() {
		r, err := scanReview(rows)
		if err != nil {
			return nil, fmt.Errorf("list reviews: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CancelPendingReviews ends every pending review.
func (s *Store) CancelPendingReviews(ctx context.Context, note string, at time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE reviews SET status = 'cancelled', note = ?, decided_at = ? WHERE status = 'pending'`, note, ts(at))
	if err != nil {
		return 0, fmt.Errorf("cancel pending reviews: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
