package api

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// keyedLimiter rate-limits per key (a user, a user in a conversation) with
// a bounded number of keys: when full it forgets the idle ones, and refuses
// new keys if none are idle.
type keyedLimiter struct {
	mu    sync.Mutex
	limit rate.Limit
	burst int
	max   int
	m     map[string]*rate.Limiter
}

func newKeyedLimiter(perSecond float64, burst, maxKeys int) *keyedLimiter {
	return &keyedLimiter{limit: rate.Limit(perSecond), burst: burst, max: maxKeys, m: map[string]*rate.Limiter{}}
}

// allow reports whether key may act now.
func (k *keyedLimiter) allow(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	l := k.m[key]
	if l == nil {
		if len(k.m) >= k.max {
			k.prune(time.Now())
			if len(k.m) >= k.max {
				return false
			}
		}
		l = rate.NewLimiter(k.limit, k.burst)
		k.m[key] = l
	}
	return l.Allow()
}

// prune drops limiters that have refilled: their keys have been idle.
func (k *keyedLimiter) prune(now time.Time) {
	for key, l := range k.m {
		if l.TokensAt(now) >= float64(k.burst) {
			delete(k.m, key)
		}
	}
}
