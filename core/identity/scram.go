package identity

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: the user name
// travels in the startup message, so the client-first-message carries an
// empty "n=" and only channel-binding flag "n" or "y" (no PLUS variant).

// Verifier is the salted SCRAM form of a secret.
type Verifier struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// SaltedPassword is Hi(password, salt, i).
func SaltedPassword(password string, salt []byte, iterations int) []byte {
	k, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		panic(err) // only for invalid parameters, which callers never pass
	}
	return k
}

func hmacSHA256(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// NewVerifier derives a verifier for secret with the given salt.
func NewVerifier(secret string, salt []byte, iterations int) Verifier {
	sp := SaltedPassword(secret, salt, iterations)
	clientKey := hmacSHA256(sp, "Client Key")
	stored := sha256.Sum256(clientKey)
	return Verifier{Salt: salt, Iterations: iterations, StoredKey: stored[:], ServerKey: hmacSHA256(sp, "Server Key")}
}

// ClientFirst is a parsed client-first-message.
type ClientFirst struct {
	GS2Header string // "n,," or "y,,"
	Bare      string // "n=...,r=..."
	Nonce     string
}

// ParseClientFirst parses a client-first-message.
func ParseClientFirst(msg string) (ClientFirst, error) {
	var cf ClientFirst
	parts := strings.SplitN(msg, ",", 3)
	if len(parts) != 3 {
		return cf, errors.New("malformed SCRAM client-first-message")
	}
	switch {
	case parts[0] == "n" || parts[0] == "y":
	case strings.HasPrefix(parts[0], "p="):
		return cf, errors.New("SCRAM channel binding is not supported by this server (use SCRAM-SHA-256)")
	default:
		return cf, errors.New("malformed SCRAM gs2 header")
	}
	if parts[1] != "" {
		return cf, errors.New("SCRAM authzid is not supported")
	}
	cf.GS2Header = parts[0] + ",,"
	cf.Bare = parts[2]
	for _, a := range strings.Split(cf.Bare, ",") {
		if strings.HasPrefix(a, "r=") {
			cf.Nonce = a[2:]
		}
	}
	if cf.Nonce == "" || !printable(cf.Nonce) {
		return cf, errors.New("SCRAM client nonce missing or invalid")
	}
	return cf, nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return false
		}
	}
	return true
}

// NewNonce returns a fresh printable server nonce.
func NewNonce() string {
	var b [18]byte
	rand.Read(b[:])
	return base64.RawStdEncoding.EncodeToString(b[:])
}

// ServerFirst builds the server-first-message.
func ServerFirst(nonce string, salt []byte, iterations int) string {
	return "r=" + nonce + ",s=" + base64.StdEncoding.EncodeToString(salt) + ",i=" + strconv.Itoa(iterations)
}

// ClientFinal is a parsed client-final-message.
type ClientFinal struct {
	WithoutProof string
	ChannelB64   string
	Nonce        string
	Proof        []byte
}

// ParseClientFinal parses a client-final-message.
func ParseClientFinal(msg string) (ClientFinal, error) {
	var cf ClientFinal
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return cf, errors.New("SCRAM client proof missing")
	}
	cf.WithoutProof = msg[:i]
	p, err := base64.StdEncoding.DecodeString(msg[i+3:])
	if err != nil || len(p) != sha256.Size {
		return cf, errors.New("SCRAM client proof malformed")
	}
	cf.Proof = p
	for _, a := range strings.Split(cf.WithoutProof, ",") {
		switch {
		case strings.HasPrefix(a, "c="):
			cf.ChannelB64 = a[2:]
		case strings.HasPrefix(a, "r="):
			cf.Nonce = a[2:]
		}
	}
	return cf, nil
}

// VerifyProof reports whether proof was made from the secret behind v, and
// returns the server signature to send back. It runs in constant time with
// respect to the keys.
func VerifyProof(v Verifier, authMessage string, proof []byte) (serverSig []byte, ok bool) {
	clientSig := hmacSHA256(v.StoredKey, authMessage)
	if len(proof) != len(clientSig) {
		return nil, false
	}
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ clientSig[i]
	}
	stored := sha256.Sum256(clientKey)
	if subtle.ConstantTimeCompare(stored[:], v.StoredKey) != 1 {
		return nil, false
	}
	return hmacSHA256(v.ServerKey, authMessage), true
}

// ClientProof computes the client side of the exchange (used to log in to
// upstream servers). It returns the client-final-message and the expected
// server signature.
func ClientProof(saltedPassword []byte, clientFirstBare, serverFirst, clientFinalWithoutProof string) (final string, serverSig []byte) {
	authMessage := clientFirstBare + "," + serverFirst + "," + clientFinalWithoutProof
	clientKey := hmacSHA256(saltedPassword, "Client Key")
	stored := sha256.Sum256(clientKey)
	clientSig := hmacSHA256(stored[:], authMessage)
	proof := make([]byte, len(clientKey))
	for i := range clientKey {
		proof[i] = clientKey[i] ^ clientSig[i]
	}
	serverKey := hmacSHA256(saltedPassword, "Server Key")
	return clientFinalWithoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof), hmacSHA256(serverKey, authMessage)
}

// ParseServerFirst parses a server-first-message (client side).
func ParseServerFirst(msg string) (nonce string, salt []byte, iterations int, err error) {
	for _, a := range strings.Split(msg, ",") {
		switch {
		case strings.HasPrefix(a, "r="):
			nonce = a[2:]
		case strings.HasPrefix(a, "s="):
			salt, err = base64.StdEncoding.DecodeString(a[2:])
			if err != nil {
				return "", nil, 0, fmt.Errorf("parse SCRAM salt: %w", err)
			}
		case strings.HasPrefix(a, "i="):
			iterations, err = strconv.Atoi(a[2:])
			if err != nil {
				return "", nil, 0, fmt.Errorf("parse SCRAM iterations: %w", err)
			}
		}
	}
	if nonce == "" || len(salt) == 0 || iterations < 1 || iterations > 10_000_000 {
		return "", nil, 0, errors.New("malformed SCRAM server-first-message")
	}
	return nonce, salt, iterations, nil
}
