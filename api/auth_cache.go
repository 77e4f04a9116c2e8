package api

import (
	"sync"
	"time"
)

// Verifying a token (HMAC and JSON) costs more than the rest of a small
// request's authentication, and a client sends the same token with every
// request. verifiedTokens remembers tokens that verified, until they expire.
const (
	// tokenCacheSize bounds the remembered tokens; when full, the cache is
	// emptied and refills with the tokens in use.
	tokenCacheSize = 8192
	// tokenCacheMaxLen keeps large tokens out of the cache, so it holds at
	// most tokenCacheSize*tokenCacheMaxLen bytes of keys.
	tokenCacheMaxLen = 1024
)

type verifiedToken struct {
	id      *Identity
	expires time.Time // the token's exp plus the parser's leeway
}

// tokenCache is a bounded map of verified tokens to their identities.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]verifiedToken
}

// get returns the identity of a remembered token that has not expired.
func (c *tokenCache) get(token string, now time.Time) *Identity {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[token]
	if !ok {
		return nil
	}
	if !now.Before(v.expires) {
		delete(c.m, token)
		return nil
	}
	return v.id
}

// put remembers a verified token until expires.
func (c *tokenCache) put(token string, id *Identity, expires time.Time) {
	if len(token) > tokenCacheMaxLen {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= tokenCacheSize {
		c.m = make(map[string]verifiedToken, 64)
	}
	c.m[token] = verifiedToken{id: id, expires: expires}
}
