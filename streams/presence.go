package streams

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"parley/internal/realtime"
)

// PresenceBucket is the KV bucket of presence leases. It holds only
// ephemeral state (memory storage); renaming it loses nothing but who is
// online right now.
const PresenceBucket = "presence"

// PresenceConfig shapes the presence bucket.
type PresenceConfig struct {
	// TTL is how long a lease lives without a refresh; whole seconds, at
	// least one.
	TTL time.Duration
	// Replicas for the bucket; 0 means 1.
	Replicas int
	// Bucket names the bucket; "" is PresenceBucket. The channel occupancy
	// counts use the same lease machinery in OccupancyBucket.
	Bucket string
}

// OccupancyBucket is the KV bucket of each node's subscription count per
// application channel (leases like presence's; ephemeral, memory).
const OccupancyBucket = "occupancy"

// Presence is the presence bucket: one key per lease,
// "<channel>.<user>.<holder>" with channel and user base64url-encoded. The
// bucket's TTL expires a lease that is not refreshed, and its limit marker
// turns that expiry into a purge every watcher sees (NATS.md §3).
type Presence struct {
	kv jetstream.KeyValue
}

var _ realtime.PresenceStore = (*Presence)(nil)

// Presence opens (creating or updating) the presence bucket.
func (c *Conn) Presence(ctx context.Context, cfg PresenceConfig) (*Presence, error) {
	ttl := cfg.TTL.Truncate(time.Second)
	if ttl < time.Second {
		return nil, fmt.Errorf("presence ttl %v: must be at least 1s", cfg.TTL)
	}
	replicas := max(cfg.Replicas, 1)
	var kv jetstream.KeyValue
	err := c.retry(ctx, "presence bucket", func() (err error) {
		kv, err = c.memoryBucket(ctx, jetstream.KeyValueConfig{
			Bucket:   cmp.Or(cfg.Bucket, PresenceBucket),
			History:  1,
			TTL:      ttl,
			Storage:  jetstream.MemoryStorage,
			Replicas: replicas,
			// Expiry writes a marker that lives this long: a watcher that is
			// down longer misses it, which Presence's sweep covers.
			LimitMarkerTTL: max(ttl, 5*time.Second),
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("presence bucket: %w", err)
	}
	return &Presence{kv: kv}, nil
}

var b64 = base64.RawURLEncoding

func leaseKey(l realtime.Lease) (string, error) {
	if l.Holder == "" || !validToken(l.Holder) {
		return "", fmt.Errorf("presence: invalid holder %q", l.Holder)
	}
	return b64.EncodeToString([]byte(l.Channel)) + "." + b64.EncodeToString([]byte(l.UserID)) + "." + l.Holder, nil
}

func parseLeaseKey(key string) (realtime.Lease, bool) {
	parts := strings.Split(key, ".")
	if len(parts) != 3 {
		return realtime.Lease{}, false
	}
	ch, err1 := b64.DecodeString(parts[0])
	user, err2 := b64.DecodeString(parts[1])
	if err1 != nil || err2 != nil {
		return realtime.Lease{}, false
	}
	return realtime.Lease{Channel: string(ch), UserID: string(user), Holder: parts[2]}, true
}

// Put creates or refreshes a lease: a new revision restarts the bucket TTL.
func (p *Presence) Put(ctx context.Context, l realtime.Lease, info json.RawMessage) error {
	key, err := leaseKey(l)
	if err != nil {
		return err
	}
	if info == nil {
		info = json.RawMessage("null")
	}
	if _, err := p.kv.Put(ctx, key, info); err != nil {
		return fmt.Errorf("presence put: %w", err)
	}
	return nil
}

// Delete removes a lease; watchers see it at once.
func (p *Presence) Delete(ctx context.Context, l realtime.Lease) error {
	key, err := leaseKey(l)
	if err != nil {
		return err
	}
	if err := p.kv.Delete(ctx, key); err != nil {
		return fmt.Errorf("presence delete: %w", err)
	}
	return nil
}

// Watch delivers the bucket's live leases, then synced, then every change
// until ctx ends: one ordered consumer per call, so run one per node.
func (p *Presence) Watch(ctx context.Context, fn func(realtime.PresenceChange), synced func()) error {
	w, err := p.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("presence watch: %w", err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("presence watch: updates closed")
			}
			if e == nil {
				synced()
				continue
			}
			l, ok := parseLeaseKey(e.Key())
			if !ok {
				continue
			}
			switch e.Operation() {
			case jetstream.KeyValuePut:
				fn(realtime.PresenceChange{Lease: l, Info: json.RawMessage(e.Value()), Online: true, At: e.Created()})
			case jetstream.KeyValueDelete:
				fn(realtime.PresenceChange{Lease: l, At: e.Created()})
			case jetstream.KeyValuePurge: // the TTL's marker; leases are never purged
				fn(realtime.PresenceChange{Lease: l, At: e.Created(), Expired: e.Revision()})
			}
		}
	}
}
