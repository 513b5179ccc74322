package sqlite

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"hoop.dev/hoop/core/store"
)

func open(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hoop.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestIdentityCredentialSession(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	id := store.Identity{ID: "i1", Name: "etl", Kind: store.KindMachine, CreatedAt: now}
	if err := s.CreateIdentity(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateIdentity(ctx, store.Identity{ID: "i2", Name: "etl", Kind: store.KindMachine, CreatedAt: now}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate name: err = %v, want ErrExists", err)
	}
	if _, err := s.IdentityByName(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown identity: err = %v", err)
	}
	c := store.Credential{ID: "c1", IdentityID: "i1", Resource: "demo", Role: "ro", SecretHash: []byte{1, 2},
		SCRAMSalt: []byte("salt"), SCRAMIterations: 4096, SCRAMStoredKey: []byte("sk"), SCRAMServerKey: []byte("svk"),
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateCredential(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeCredential(ctx, "c1", now, "revoked"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeCredential(ctx, "c1", now.Add(time.Hour), "again"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Credential(ctx, "c1")
	if err != nil || !got.RevokedAt.Equal(now) || got.RevokeReason != "revoked" || got.Active(now) {
		t.Fatalf("credential after revoke = %+v, %v", got, err)
	}
	if !bytes.Equal(got.SCRAMStoredKey, []byte("sk")) || got.SCRAMIterations != 4096 {
		t.Fatalf("scram verifier not kept: %+v", got)
	}
	sess := store.Session{ID: "s1", CredentialID: "c1", IdentityID: "i1", Identity: "etl", Kind: "machine",
		Resource: "demo", Role: "ro", Protocol: "postgres", ClientAddr: "127.0.0.1:1", Status: store.StatusLive, StartedAt: now}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	frames := []store.Frame{{Session: "s1", Seq: 1, Time: now, Dir: store.C2S, Data: []byte("Q")}, {Session: "s1", Seq: 2, Time: now, Dir: store.S2C, Data: []byte("ok")}}
	events := []store.Event{{Session: "s1", Seq: 1, FrameSeq: 1, Time: now, Kind: store.EventStatement, Text: "select 1"}}
	if err := s.Append(ctx, frames, events); err != nil {
		t.Fatal(err)
	}
	// A crash leaves the session live; reopening and ending dangling
	// sessions recovers counters from the frames.
	s.Close()
	s2, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if n, err := s2.EndDangling(ctx, store.EndShutdown, now); err != nil || n != 1 {
		t.Fatalf("EndDangling = %d, %v", n, err)
	}
	x, err := s2.Session(ctx, "s1")
	if err != nil || x.Status != store.StatusEnded || x.BytesC2S != 1 || x.BytesS2C != 2 || x.Statements != 1 {
		t.Fatalf("session after recovery = %+v, %v", x, err)
	}
	fs, err := s2.Frames(ctx, "s1", 1, 10)
	if err != nil || len(fs) != 1 || fs[0].Seq != 2 || string(fs[0].Data) != "ok" || fs[0].Dir != store.S2C {
		t.Fatalf("frames after 1 = %+v, %v", fs, err)
	}
	list, err := s2.ListSessions(ctx, store.SessionFilter{Status: store.StatusEnded, Identity: "etl"})
	if err != nil || len(list) != 1 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if list, _ := s2.ListSessions(ctx, store.SessionFilter{Status: store.StatusLive}); len(list) != 0 {
		t.Fatalf("live sessions after recovery: %+v", list)
	}
}

func BenchmarkAppend(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "b.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := bytes.Repeat([]byte("x"), 100)
	for i := 0; b.Loop(); i++ {
		f := []store.Frame{{Session: "s", Seq: int64(i + 1), Time: time.Now(), Data: data}}
		if err := s.Append(context.Background(), f, nil); err != nil {
			b.Fatal(err)
		}
	}
}
