package streams

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"parley/internal/realtime"
)

// CacheBucket is the KV bucket of the cache channels' last events. It is
// ephemeral (memory storage, TTL): renaming it loses only those events.
const CacheBucket = "app_cache"

// DefaultCacheTTL is how long a cache channel remembers its last event, as
// Pusher does (30 minutes).
const DefaultCacheTTL = 30 * time.Minute

// CacheMaxBytes bounds the cache bucket's memory. A full bucket refuses new
// channels until old ones expire (those subscribers get pusher:cache_miss).
const CacheMaxBytes = 64 << 20

// ChannelCache is the cache channels' last events, one key per channel
// (base64url of its hub key), shared by every node.
type ChannelCache struct {
	kv jetstream.KeyValue
}

var _ realtime.ChannelCache = (*ChannelCache)(nil)

// ChannelCache opens (creating or updating) the cache bucket; ttl 0 is
// DefaultCacheTTL.
func (c *Conn) ChannelCache(ctx context.Context, ttl time.Duration, replicas int) (*ChannelCache, error) {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	var kv jetstream.KeyValue
	err := c.retry(ctx, "cache bucket", func() (err error) {
		kv, err = c.memoryBucket(ctx, jetstream.KeyValueConfig{
			// No value size of its own: an event the app bus can carry is
			// one the cache can keep.
			Bucket: CacheBucket, History: 1, TTL: ttl, Storage: jetstream.MemoryStorage,
			Replicas: max(replicas, 1), MaxBytes: CacheMaxBytes,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cache bucket: %w", err)
	}
	return &ChannelCache{kv: kv}, nil
}

// Put records ev as its channel's last event. When that fails, the
// channel's older event is removed (best effort), so a subscriber is never
// replayed an event that is not the last.
func (c *ChannelCache) Put(ctx context.Context, ev realtime.ServerEvent) error {
	ev.ExceptSocket = ""
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	key := base64.RawURLEncoding.EncodeToString([]byte(ev.Key))
	if _, err := c.kv.Put(ctx, key, data); err != nil {
		if derr := c.kv.Purge(ctx, key); derr != nil {
			return errors.Join(fmt.Errorf("cache put: %w", err), fmt.Errorf("cache purge: %w", derr))
		}
		return fmt.Errorf("cache put: %w", err)
	}
	return nil
}

// Get returns the channel's last event, or nil.
func (c *ChannelCache) Get(ctx context.Context, key string) (*realtime.ServerEvent, error) {
	e, err := c.kv.Get(ctx, base64.RawURLEncoding.EncodeToString([]byte(key)))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cache get: %w", err)
	}
	var ev realtime.ServerEvent
	if err := json.Unmarshal(e.Value(), &ev); err != nil {
		return nil, fmt.Errorf("cache get: %w", err)
	}
	return &ev, nil
}
