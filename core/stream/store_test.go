package stream

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hoop.dev/hoop/core/store"
	"hoop.dev/hoop/core/store/sqlite"
)

// openStore returns the real SQLite store in a temp dir.
func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hoop.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// createSession registers a session with the given status.
func createSession(t testing.TB, st store.Store, status string) store.Session {
	t.Helper()
	s := store.Session{
		ID: "s-" + strings.ReplaceAll(t.Name(), "/", "-"), Identity: "agent", Kind: store.KindMachine, Resource: "db",
		Role: "ro", Protocol: "postgres", Status: status, StartedAt: time.Now().UTC(),
	}
	if err := st.CreateSession(context.Background(), s); err != nil {
		t.Fatalf("create session: %v", err)
	}
	return s
}
