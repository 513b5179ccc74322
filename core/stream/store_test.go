package stream

import (
	"context"
	"testing"
	"time"

	"hoop.dev/hoop/core/store"
)

// openStore returns the store the hub tests run against.
func openStore(t testing.TB) store.Store {
	t.Helper()
	return newMemStore()
}

// createSession registers a session with the given status.
func createSession(t testing.TB, st store.Store, status string) store.Session {
	t.Helper()
	s := store.Session{
		ID: "s-" + t.Name(), Identity: "agent", Kind: store.KindMachine, Resource: "db",
		Role: "ro", Protocol: "postgres", Status: status, StartedAt: time.Now().UTC(),
	}
	if err := st.CreateSession(context.Background(), s); err != nil {
		t.Fatalf("create session: %v", err)
	}
	return s
}
