package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ClaimsBucket is the KV bucket of one-time claims. It is ephemeral
// (memory storage, TTL): renaming it only lets a claim made just before
// be made again.
const ClaimsBucket = "claims"

// claimsTTL is how long a claim holds: far longer than the nodes' watchers
// take to see the change a claim is about.
const claimsTTL = 10 * time.Minute

// claimsMaxBytes bounds the bucket's memory (tens of thousands of claims);
// a full bucket fails new claims until old ones expire.
const claimsMaxBytes = 8 << 20

// Claims are cluster-wide one-time claims: of the nodes that claim a key
// within claimsTTL, exactly one is told it won.
type Claims struct {
	kv jetstream.KeyValue
}

// Claims opens (creating or updating) the claims bucket.
func (c *Conn) Claims(ctx context.Context, replicas int) (*Claims, error) {
	var kv jetstream.KeyValue
	err := c.retry(ctx, "claims bucket", func() (err error) {
		kv, err = c.memoryBucket(ctx, jetstream.KeyValueConfig{
			Bucket: ClaimsBucket, History: 1, TTL: claimsTTL, Storage: jetstream.MemoryStorage,
			Replicas: max(replicas, 1), MaxBytes: claimsMaxBytes,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claims bucket: %w", err)
	}
	return &Claims{kv: kv}, nil
}

// Claim reports whether owner (this node) is the first to claim key (a KV
// key: letters, digits, '-', '_', '.', '=' and '/'). When the write's
// answer is lost, the key is read back: a claim that landed is still won.
func (c *Claims) Claim(ctx context.Context, key, owner string) (bool, error) {
	_, err := c.kv.Create(ctx, key, []byte(owner))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyExists):
		return false, nil
	}
	if e, gerr := c.kv.Get(ctx, key); gerr == nil {
		return string(e.Value()) == owner, nil
	}
	return false, fmt.Errorf("claim %s: %w", key, err)
}
