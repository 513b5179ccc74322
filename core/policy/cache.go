package policy

import (
	"sync"
	"time"

	"hoop.dev/hoop/sdk"
)

// verdictCache remembers verdicts of one policy for identical inputs (the
// session id aside), so an application that runs the same statements over
// and over, as drivers with parameters do, pays for each plugin call once a
// minute. It is bounded and first-in-first-out; a policy whose verdict
// depends on time or state sets cache = false.
type verdictCache struct {
	mu    sync.Mutex
	m     map[cacheKey]cached
	order []cacheKey
	next  int
	ttl   time.Duration
}

type cacheKey struct {
	identity, kind, resource, role, protocol, text string
}

type cached struct {
	v  sdk.Verdict
	at time.Time
}

const (
	cacheEntries = 4096
	cacheMaxText = 4096
	cacheTTL     = time.Minute
)

func newVerdictCache() *verdictCache {
	return &verdictCache{m: make(map[cacheKey]cached, cacheEntries), order: make([]cacheKey, cacheEntries), ttl: cacheTTL}
}

func keyOf(st Statement) (cacheKey, bool) {
	if len(st.Text) > cacheMaxText {
		return cacheKey{}, false
	}
	return cacheKey{st.Identity, st.Kind, st.Resource, st.Role, st.Protocol, st.Text}, true
}

func (c *verdictCache) get(k cacheKey, now time.Time) (sdk.Verdict, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || now.Sub(e.at) > c.ttl {
		return sdk.Verdict{}, false
	}
	return e.v, true
}

func (c *verdictCache) put(k cacheKey, v sdk.Verdict, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok {
		old := c.order[c.next]
		delete(c.m, old)
		c.order[c.next] = k
		c.next = (c.next + 1) % len(c.order)
	}
	c.m[k] = cached{v: v, at: now}
}
