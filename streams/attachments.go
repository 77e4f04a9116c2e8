package streams

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"parley/engine"
)

// AttachmentsBucket is the object store of uploads (file storage, the log's
// replicas, so attachments replicate with the cluster).
const AttachmentsBucket = "attachments"

// Attachments stores uploads' bytes and metadata in a JetStream object
// store. It implements engine.BlobStore.
type Attachments struct {
	obj jetstream.ObjectStore
	// blocks, on one embedded node, fsyncs the bucket's blocks before an
	// upload is answered, as the log's appends are (nil elsewhere: the
	// servers fsync themselves).
	blocks *blockSyncer
}

var _ engine.BlobStore = (*Attachments)(nil)

// Metadata keys of an upload's object.
const (
	metaOwner   = "owner"
	metaType    = "content-type"
	metaCreated = "created"
)

// Attachments opens (creating or updating) the attachments bucket; maxBytes
// bounds it (0: no bound).
func (c *Conn) Attachments(ctx context.Context, maxBytes int64) (*Attachments, error) {
	if maxBytes <= 0 {
		maxBytes = -1
	}
	var obj jetstream.ObjectStore
	err := c.retry(ctx, "attachments bucket", func() (err error) {
		obj, err = c.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket: AttachmentsBucket, Description: "Parley attachments", Storage: jetstream.FileStorage,
			Replicas: max(c.replicas, 1), MaxBytes: maxBytes,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("attachments bucket: %w", err)
	}
	a := &Attachments{obj: obj}
	if c.blocksRoot != "" {
		a.blocks = newBlockSyncer(embeddedBlocks(c.blocksRoot, "OBJ_"+AttachmentsBucket))
		if err := a.blocks.sync(ctx); err != nil { // from the last block as it stands
			a.blocks.close()
			return nil, fmt.Errorf("attachments bucket: %w", err)
		}
		c.logsMu.Lock()
		c.syncers = append(c.syncers, a.blocks)
		c.logsMu.Unlock()
	}
	return a, nil
}

// PutBlob stores r under info.ID.
func (a *Attachments) PutBlob(ctx context.Context, info engine.AttachmentInfo, r io.Reader) (*engine.AttachmentInfo, error) {
	oi, err := a.obj.Put(ctx, jetstream.ObjectMeta{Name: info.ID, Description: info.Name, Metadata: map[string]string{
		metaOwner: info.OwnerID, metaType: info.ContentType, metaCreated: info.CreatedAt.UTC().Format(time.RFC3339Nano),
	}}, r)
	if err != nil {
		return nil, fmt.Errorf("store attachment %s: %w", info.ID, err)
	}
	if a.blocks != nil {
		if err := a.blocks.sync(ctx); err != nil {
			return nil, fmt.Errorf("store attachment %s: %w", info.ID, err)
		}
	}
	return blobInfo(oi), nil
}

// BlobInfo describes an upload; nil when there is none.
func (a *Attachments) BlobInfo(ctx context.Context, id string) (*engine.AttachmentInfo, error) {
	oi, err := a.obj.GetInfo(ctx, id)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("attachment %s: %w", id, err)
	}
	return blobInfo(oi), nil
}

// OpenBlob opens the bytes of an upload; (nil, nil, nil) when there is none.
func (a *Attachments) OpenBlob(ctx context.Context, id string) (io.ReadCloser, *engine.AttachmentInfo, error) {
	res, err := a.obj.Get(ctx, id)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("attachment %s: %w", id, err)
	}
	oi, err := res.Info()
	if err != nil {
		res.Close()
		return nil, nil, err
	}
	return res, blobInfo(oi), nil
}

// DeleteBlob deletes an upload (nothing when it is gone already).
func (a *Attachments) DeleteBlob(ctx context.Context, id string) error {
	err := a.obj.Delete(ctx, id)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil
	}
	return err
}

// ListBlobs hands fn every upload until it returns false.
func (a *Attachments) ListBlobs(ctx context.Context, fn func(engine.AttachmentInfo) bool) error {
	w, err := a.obj.Watch(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case oi, ok := <-w.Updates():
			if !ok || oi == nil { // nil: the end of what is stored
				return nil
			}
			if !fn(*blobInfo(oi)) {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func blobInfo(oi *jetstream.ObjectInfo) *engine.AttachmentInfo {
	created, _ := time.Parse(time.RFC3339Nano, oi.Metadata[metaCreated])
	return &engine.AttachmentInfo{
		ID: oi.Name, OwnerID: oi.Metadata[metaOwner], Name: oi.Description, ContentType: oi.Metadata[metaType],
		Size: int64(oi.Size), Digest: oi.Digest, CreatedAt: created,
	}
}
