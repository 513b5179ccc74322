// Package review holds statements for a person's decision. A front end
// calls Hold, which records a pending review and blocks until someone
// approves or rejects it, the review times out, or the client goes away;
// Decide is what the API, the CLI and the audit view call.
package review

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"hoop.dev/hoop/core/store"
)

// Outcome is how a hold ended.
type Outcome struct {
	Approved bool
	Status   string // store.ReviewApproved, ReviewRejected, ReviewTimedOut, ReviewCancelled
	By       string
	Note     string
	ID       string
}

// Publisher receives review changes (the stream hub), may be nil.
type Publisher interface {
	PublishEvents(events []store.Event)
}

// Service tracks pending reviews.
type Service struct {
	st      store.Store
	log     *slog.Logger
	timeout time.Duration

	mu      sync.Mutex
	waiting map[string]chan Outcome
}

// New returns the service; timeout bounds every hold.
func New(st store.Store, timeout time.Duration, log *slog.Logger) *Service {
	return &Service{st: st, log: log, timeout: timeout, waiting: map[string]chan Outcome{}}
}

// Recover cancels reviews left pending by a previous process (their
// clients are gone).
func (s *Service) Recover(ctx context.Context) error {
	n, err := s.st.CancelPendingReviews(ctx, "the gateway restarted while the statement was held", time.Now().UTC())
	if n > 0 {
		s.log.Warn("cancelled reviews left pending by a previous run", "count", n)
	}
	return err
}

// Hold records r as pending and waits for its outcome. created is called
// once the review is stored (so the caller can publish it). ctx ending
// (client gone, session killed) cancels the review.
func (s *Service) Hold(ctx context.Context, r store.Review, created func(store.Review)) (Outcome, error) {
	r.ID = store.NewID("r")
	r.Status = store.ReviewPending
	r.CreatedAt = time.Now().UTC()
	ch := make(chan Outcome, 1)
	s.mu.Lock()
	s.waiting[r.ID] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiting, r.ID)
		s.mu.Unlock()
	}()
	if err := s.st.CreateReview(context.WithoutCancel(ctx), r); err != nil {
		return Outcome{}, err
	}
	s.log.Info("statement held for review", "review", r.ID, "session", r.Session, "identity", r.Identity, "rule", r.Rule, "risk", r.Risk)
	if created != nil {
		created(r)
	}
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	select {
	case o := <-ch:
		return o, nil
	case <-timer.C:
		return s.end(r.ID, store.ReviewTimedOut, "", fmt.Sprintf("nobody decided within %s", s.timeout), ch)
	case <-ctx.Done():
		return s.end(r.ID, store.ReviewCancelled, "", "the client disconnected or the session ended while the statement was held", ch)
	}
}

// end closes a review that nobody decided, unless a decision raced in.
func (s *Service) end(id, status, by, note string, ch chan Outcome) (Outcome, error) {
	err := s.st.DecideReview(context.Background(), id, status, by, note, time.Now().UTC())
	if errors.Is(err, store.ErrExists) {
		select {
		case o := <-ch:
			return o, nil
		case <-time.After(5 * time.Second):
		}
	}
	return Outcome{Status: status, Note: note, ID: id}, err
}

// ErrNotPending is returned when deciding a review nobody waits for.
var ErrNotPending = errors.New("review is not pending")

// Decide approves or rejects a pending review.
func (s *Service) Decide(ctx context.Context, id string, approve bool, by, note string) (store.Review, error) {
	status := store.ReviewRejected
	if approve {
		status = store.ReviewApproved
	}
	if by == "" {
		by = "admin"
	}
	if err := s.st.DecideReview(ctx, id, status, by, note, time.Now().UTC()); err != nil {
		if errors.Is(err, store.ErrExists) {
			return store.Review{}, fmt.Errorf("%w: %v", ErrNotPending, err)
		}
		return store.Review{}, err
	}
	s.mu.Lock()
	ch := s.waiting[id]
	s.mu.Unlock()
	if ch != nil {
		ch <- Outcome{Approved: approve, Status: status, By: by, Note: note, ID: id}
	}
	s.log.Info("review decided", "review", id, "status", status, "by", by)
	return s.st.Review(ctx, id)
}

// Get returns one review.
func (s *Service) Get(ctx context.Context, id string) (store.Review, error) {
	return s.st.Review(ctx, id)
}

// List returns reviews with status ("" for all).
func (s *Service) List(ctx context.Context, status string) ([]store.Review, error) {
	return s.st.ListReviews(ctx, status, 500)
}
