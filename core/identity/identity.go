// Package identity manages machine and human identities and their
// credentials: issuing secrets (shown once), storing only their hashes and
// SCRAM verifiers, rotating and revoking them, and authenticating a secret
// presented by a client. Revocation and rotation end the credential's live
// sessions through the session registry, whatever their protocol.
package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"time"

	"hoop.dev/hoop/core/config"
	"hoop.dev/hoop/core/store"
)

// SecretPrefix starts every credential secret so that it is recognisable
// in a leaked log or a secret scanner.
const SecretPrefix = "hoop_cred_"

// Errors a client may be told about. ErrAuthFailed deliberately covers both
// an unknown identity and a wrong secret.
var (
	ErrAuthFailed = errors.New("authentication failed")
	ErrRevoked    = errors.New("credential revoked")
	ErrExpired    = errors.New("credential expired")
	ErrInvalid    = errors.New("invalid request")
)

// Ender ends live sessions of a credential (the session registry).
type Ender interface {
	EndCredential(id, reason string) int
}

// Service is the identity and credential service.
type Service struct {
	st         store.Store
	cfg        *config.Config
	ender      Ender
	iterations int
	fakeKey    []byte // derives stable fake salts for unknown identities
	now        func() time.Time
}

// New returns the service.
func New(st store.Store, cfg *config.Config, ender Ender) *Service {
	k := make([]byte, 32)
	rand.Read(k)
	return &Service{st: st, cfg: cfg, ender: ender, iterations: cfg.Postgres.SCRAMIterations, fakeKey: k, now: func() time.Time { return time.Now().UTC() }}
}

// Issued is a newly created or rotated credential, with its secret: the
// only time the secret exists outside the client.
type Issued struct {
	Identity     string `json:"identity"`
	Kind         string `json:"kind"`
	CredentialID string `json:"credential_id"`
	Resource     string `json:"resource"`
	Role         string `json:"role"`
	Secret       string `json:"secret"`
	ExpiresAt    string `json:"expires_at,omitempty"`
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,62}$`)

// CreateRequest asks for a credential.
type CreateRequest struct {
	Name     string
	Kind     string // default machine
	Resource string
	Role     string
	Expires  time.Duration // 0: never
}

// Create issues a credential for name on resource/role, creating the
// identity if it does not exist. An identity may hold credentials for
// several resource roles, but only one active credential per role (use
// Rotate to replace it).
func (s *Service) Create(ctx context.Context, req CreateRequest) (Issued, error) {
	if req.Kind == "" {
		req.Kind = store.KindMachine
	}
	if !nameRE.MatchString(req.Name) {
		return Issued{}, fmt.Errorf("%w: identity name %q must be 1-63 letters, digits, '.', '_', '@' or '-'", ErrInvalid, req.Name)
	}
	if req.Kind != store.KindMachine && req.Kind != store.KindHuman {
		return Issued{}, fmt.Errorf("%w: kind %q is not machine or human", ErrInvalid, req.Kind)
	}
	if req.Expires < 0 {
		return Issued{}, fmt.Errorf("%w: expires must be positive", ErrInvalid)
	}
	res := s.cfg.ResourceByName(req.Resource)
	if res == nil {
		return Issued{}, fmt.Errorf("%w: resource %q is not configured", ErrInvalid, req.Resource)
	}
	if res.RoleByName(req.Role) == nil {
		return Issued{}, fmt.Errorf("%w: resource %q has no role %q", ErrInvalid, req.Resource, req.Role)
	}
	id, err := s.st.IdentityByName(ctx, req.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		id = store.Identity{ID: store.NewID("i"), Name: req.Name, Kind: req.Kind, CreatedAt: s.now()}
		if err := s.st.CreateIdentity(ctx, id); err != nil {
			return Issued{}, err
		}
	case err != nil:
		return Issued{}, err
	case id.Kind != req.Kind:
		return Issued{}, fmt.Errorf("%w: identity %q exists with kind %s", ErrInvalid, req.Name, id.Kind)
	}
	creds, err := s.st.CredentialsOf(ctx, id.ID)
	if err != nil {
		return Issued{}, err
	}
	for _, c := range creds {
		if c.Resource == req.Resource && c.Role == req.Role && c.Active(s.now()) {
			return Issued{}, fmt.Errorf("%w: %s already has an active credential for %s/%s (rotate or revoke it)", store.ErrExists, req.Name, req.Resource, req.Role)
		}
	}
	var expires time.Time
	if req.Expires > 0 {
		expires = s.now().Add(req.Expires)
	}
	return s.issue(ctx, id, creds, req.Resource, req.Role, expires)
}

// issue creates one credential. All credentials of an identity share one
// SCRAM salt and iteration count: the server must send them before it knows
// which secret the client holds, and the proof is then checked against each
// candidate's verifier.
func (s *Service) issue(ctx context.Context, id store.Identity, existing []store.Credential, resource, role string, expires time.Time) (Issued, error) {
	salt, iter := s.saltOf(existing)
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Issued{}, fmt.Errorf("generate secret: %w", err)
	}
	secret := SecretPrefix + base64.RawURLEncoding.EncodeToString(raw)
	v := NewVerifier(secret, salt, iter)
	h := sha256.Sum256([]byte(secret))
	c := store.Credential{ID: store.NewID("c"), IdentityID: id.ID, Resource: resource, Role: role, SecretHash: h[:],
		SCRAMSalt: v.Salt, SCRAMIterations: v.Iterations, SCRAMStoredKey: v.StoredKey, SCRAMServerKey: v.ServerKey,
		CreatedAt: s.now(), ExpiresAt: expires}
	if err := s.st.CreateCredential(ctx, c); err != nil {
		return Issued{}, err
	}
	out := Issued{Identity: id.Name, Kind: id.Kind, CredentialID: c.ID, Resource: resource, Role: role, Secret: secret}
	if !expires.IsZero() {
		out.ExpiresAt = expires.Format(time.RFC3339)
	}
	return out, nil
}

func (s *Service) saltOf(existing []store.Credential) ([]byte, int) {
	for _, c := range existing {
		if len(c.SCRAMSalt) > 0 && c.SCRAMIterations > 0 {
			return c.SCRAMSalt, c.SCRAMIterations
		}
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	return salt, s.iterations
}

// Selector narrows Rotate and Revoke to one resource role; zero means all
// of the identity's active credentials.
type Selector struct{ Resource, Role string }

func (sel Selector) match(c store.Credential) bool {
	return (sel.Resource == "" || sel.Resource == c.Resource) && (sel.Role == "" || sel.Role == c.Role)
}

// Revoke revokes the identity's active credentials matched by sel and ends
// their live sessions at once. It returns the revoked credential ids and the
// number of sessions ended.
func (s *Service) Revoke(ctx context.Context, name string, sel Selector) ([]string, int, error) {
	return s.end(ctx, name, sel, store.EndRevoked)
}

func (s *Service) end(ctx context.Context, name string, sel Selector, reason string) ([]string, int, error) {
	id, err := s.st.IdentityByName(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	creds, err := s.st.CredentialsOf(ctx, id.ID)
	if err != nil {
		return nil, 0, err
	}
	var ids []string
	ended := 0
	for _, c := range creds {
		if !c.Active(s.now()) || !sel.match(c) {
			continue
		}
		// Mark revoked first so no new session can authenticate, then end
		// the live ones.
		if err := s.st.RevokeCredential(ctx, c.ID, s.now(), reason); err != nil {
			return ids, ended, err
		}
		ended += s.ender.EndCredential(c.ID, reason)
		ids = append(ids, c.ID)
	}
	if len(ids) == 0 {
		return nil, 0, fmt.Errorf("%w: %s has no active credential to %s", store.ErrNotFound, name, map[string]string{store.EndRevoked: "revoke", store.EndRotated: "rotate"}[reason])
	}
	return ids, ended, nil
}

// Rotate replaces the identity's active credentials matched by sel with new
// ones (same resource role and lifetime), ends the old ones' sessions with
// reason rotated, and returns the new secrets.
func (s *Service) Rotate(ctx context.Context, name string, sel Selector) ([]Issued, int, error) {
	id, err := s.st.IdentityByName(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	creds, err := s.st.CredentialsOf(ctx, id.ID)
	if err != nil {
		return nil, 0, err
	}
	var olds []store.Credential
	for _, c := range creds {
		if c.Active(s.now()) && sel.match(c) {
			olds = append(olds, c)
		}
	}
	if len(olds) == 0 {
		return nil, 0, fmt.Errorf("%w: %s has no active credential to rotate", store.ErrNotFound, name)
	}
	var out []Issued
	ended := 0
	for _, old := range olds {
		var expires time.Time
		if !old.ExpiresAt.IsZero() {
			expires = s.now().Add(old.ExpiresAt.Sub(old.CreatedAt))
		}
		if err := s.st.RevokeCredential(ctx, old.ID, s.now(), store.EndRotated); err != nil {
			return out, ended, err
		}
		ended += s.ender.EndCredential(old.ID, store.EndRotated)
		iss, err := s.issue(ctx, id, creds, old.Resource, old.Role, expires)
		if err != nil {
			return out, ended, err
		}
		out = append(out, iss)
	}
	return out, ended, nil
}

// View is an identity with its credentials, for listing (no secrets).
type View struct {
	store.Identity
	Credentials []store.Credential
}

// List returns every identity with its credentials.
func (s *Service) List(ctx context.Context) ([]View, error) {
	ids, err := s.st.ListIdentities(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(ids))
	for _, id := range ids {
		creds, err := s.st.CredentialsOf(ctx, id.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, View{Identity: id, Credentials: creds})
	}
	return out, nil
}

// Match is a successfully authenticated credential.
type Match struct {
	Identity   store.Identity
	Credential store.Credential
}

// Candidates is what a challenge-response login needs before the client
// proves anything: the salt and iteration count to send, and the
// credentials a proof may match. For an unknown identity it returns a
// stable fake salt and no candidates, so the exchange looks the same.
type Candidates struct {
	Identity    store.Identity
	Salt        []byte
	Iterations  int
	Credentials []store.Credential
}

// Lookup returns the candidates for user name.
func (s *Service) Lookup(ctx context.Context, name string) (Candidates, error) {
	id, err := s.st.IdentityByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		m := hmac.New(sha256.New, s.fakeKey)
		m.Write([]byte(name))
		return Candidates{Salt: m.Sum(nil)[:16], Iterations: s.iterations}, nil
	}
	if err != nil {
		return Candidates{}, err
	}
	creds, err := s.st.CredentialsOf(ctx, id.ID)
	if err != nil {
		return Candidates{}, err
	}
	salt, iter := s.saltOf(creds)
	if id.Disabled {
		creds = nil
	}
	return Candidates{Identity: id, Salt: salt, Iterations: iter, Credentials: creds}, nil
}

// Check turns a matched credential into a verdict: ErrRevoked, ErrExpired
// or nil. Only a client that proved knowledge of the secret learns this.
func (s *Service) Check(m Match) error {
	c := m.Credential
	if !c.RevokedAt.IsZero() {
		return ErrRevoked
	}
	if !c.ExpiresAt.IsZero() && !s.now().Before(c.ExpiresAt) {
		return ErrExpired
	}
	return nil
}

// VerifySCRAM checks a SCRAM proof against every candidate.
func (s *Service) VerifySCRAM(cand Candidates, authMessage string, proof []byte) (Match, []byte, error) {
	var match Match
	var sig []byte
	found := false
	for _, c := range cand.Credentials {
		v := Verifier{Salt: c.SCRAMSalt, Iterations: c.SCRAMIterations, StoredKey: c.SCRAMStoredKey, ServerKey: c.SCRAMServerKey}
		if ss, ok := VerifyProof(v, authMessage, proof); ok && !found {
			match, sig, found = Match{Identity: cand.Identity, Credential: c}, ss, true
		}
	}
	if !found {
		return Match{}, nil, ErrAuthFailed
	}
	return match, sig, s.Check(match)
}

// VerifySecret checks a cleartext secret against every candidate.
func (s *Service) VerifySecret(cand Candidates, secret string) (Match, error) {
	h := sha256.Sum256([]byte(secret))
	var match Match
	found := false
	for _, c := range cand.Credentials {
		if subtle.ConstantTimeCompare(h[:], c.SecretHash) == 1 && !found {
			match, found = Match{Identity: cand.Identity, Credential: c}, true
		}
	}
	if !found {
		return Match{}, ErrAuthFailed
	}
	return match, s.Check(match)
}
