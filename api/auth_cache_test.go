package api

import (
	"fmt"
	"testing"
	"time"
)

func TestTokenCacheExpiresAndStaysBounded(t *testing.T) {
	var c tokenCache
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	id := &Identity{UserID: "u1"}
	c.put("tok", id, now.Add(time.Minute))
	if got := c.get("tok", now); got != id {
		t.Fatalf("fresh token: got %v, want the remembered identity", got)
	}
	if got := c.get("tok", now.Add(time.Minute)); got != nil {
		t.Fatalf("expired token answered from the cache: %v", got)
	}
	if got := c.get("tok", now); got != nil {
		t.Fatalf("an expired token stayed in the cache")
	}
	for i := range 3 * tokenCacheSize {
		c.put(fmt.Sprint("t", i), id, now.Add(time.Hour))
		if len(c.m) > tokenCacheSize {
			t.Fatalf("cache holds %d tokens, bound is %d", len(c.m), tokenCacheSize)
		}
	}
	long := string(make([]byte, tokenCacheMaxLen+1))
	c.put(long, id, now.Add(time.Hour))
	if c.get(long, now) != nil {
		t.Fatal("a token longer than the cache's key bound was remembered")
	}
}

func TestVerifyRefusesExpiredTokenItRemembered(t *testing.T) {
	secret := []byte("s")
	a := NewAuthenticator(secret)
	tok, err := MintToken(secret, "u1", "", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(tok); err != nil {
		t.Fatal(err)
	}
	// The same token, remembered with an expiry in the past, must be
	// verified again (and refused by the parser only if really expired).
	a.cache.put(tok, &Identity{UserID: "someone-else"}, time.Now().Add(-time.Second))
	id, err := a.Verify(tok)
	if err != nil || id.UserID != "u1" {
		t.Fatalf("Verify = %v, %v; want u1 from the token itself", id, err)
	}
}
