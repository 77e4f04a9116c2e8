package engine

import (
	"context"
	"crypto/sha256"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
)

// MaxAttachments bounds the attachments of one message.
const MaxAttachments = 10

// MaxAttachmentNameBytes bounds an attachment's file name.
const MaxAttachmentNameBytes = 200

// AttachmentInfo describes a stored upload.
type AttachmentInfo struct {
	ID          string    `json:"id"`
	OwnerID     string    `json:"owner_id"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	Digest      string    `json:"-"` // of the bytes, for ETag
	CreatedAt   time.Time `json:"-"`
}

// Attachment is an attachment as a message carries it.
type Attachment struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// BlobStore keeps the bytes of uploads (a JetStream object store, so they
// replicate with the cluster). Lookups return (nil, nil) when there is no
// such upload.
type BlobStore interface {
	// PutBlob stores r under info.ID with info's metadata and returns what
	// was stored (size and digest filled in).
	PutBlob(ctx context.Context, info AttachmentInfo, r io.Reader) (*AttachmentInfo, error)
	BlobInfo(ctx context.Context, id string) (*AttachmentInfo, error)
	// OpenBlob opens the bytes of an upload.
	OpenBlob(ctx context.Context, id string) (io.ReadCloser, *AttachmentInfo, error)
	DeleteBlob(ctx context.Context, id string) error
	// ListBlobs hands fn every upload until it returns false.
	ListBlobs(ctx context.Context, fn func(AttachmentInfo) bool) error
}

// Upload is a file to store: its bytes, its checked content type, a file
// name, and an optional idempotency key of the uploader's.
type Upload struct {
	Name        string
	ContentType string
	Key         string
	Body        io.Reader
}

// ErrAttachmentsOff answers the attachment routes of a node without a blob
// store.
var ErrAttachmentsOff = Errorf(KindUnavailable, "attachments_unavailable", "attachments are not available on this server")

// ErrAttachmentNotFound hides whether an attachment exists from those who
// may not see it.
var ErrAttachmentNotFound = Errorf(KindNotFound, "attachment_not_found", "attachment not found")

// uploadID is an upload's id: random, or made from the uploader and their
// key, so a retried upload names the same attachment.
func uploadID(userID, key string) string {
	if key == "" {
		return ulid.Make().String()
	}
	sum := sha256.Sum256([]byte(userID + "\x00" + key))
	var id ulid.ULID
	copy(id[:], sum[:len(id)])
	return id.String()
}

// CleanFileName makes name safe to show and to put in a header: its last
// path element, without control characters or quotes, at most
// MaxAttachmentNameBytes; "attachment" when nothing is left.
func CleanFileName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '"' || r == utf8.RuneError || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > MaxAttachmentNameBytes {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == ".." {
		return "attachment"
	}
	return name
}

// Upload stores a file for userID; it belongs to them until a message of
// theirs carries it. A retry with the same key returns the stored
// attachment with created=false and stores nothing.
func (s *Service) Upload(ctx context.Context, userID string, u Upload) (*AttachmentInfo, bool, error) {
	if s.blobs == nil {
		return nil, false, ErrAttachmentsOff
	}
	if u.Key != "" && (len(u.Key) > s.limits.MaxTempIDChars || strings.ContainsFunc(u.Key, unicode.IsControl)) {
		return nil, false, Errorf(KindInvalid, "invalid_idempotency_key", "Idempotency-Key must be 1 to %d characters without control characters", s.limits.MaxTempIDChars)
	}
	id := uploadID(userID, u.Key)
	if u.Key != "" {
		info, err := s.blobs.BlobInfo(ctx, id)
		if err != nil {
			return nil, false, err
		}
		if info != nil {
			return info, false, nil
		}
	}
	info, err := s.blobs.PutBlob(ctx, AttachmentInfo{ID: id, OwnerID: userID, Name: CleanFileName(u.Name),
		ContentType: u.ContentType, CreatedAt: s.now().UTC()}, u.Body)
	if err != nil {
		return nil, false, err
	}
	return info, true, nil
}

// OpenAttachment opens an attachment for userID: a participant of the
// conversation whose message carries it, or, before any does, its
// uploader. Anyone else, and an attachment of a deleted message, is
// ErrAttachmentNotFound.
func (s *Service) OpenAttachment(ctx context.Context, userID, id string) (io.ReadCloser, *AttachmentInfo, error) {
	if s.blobs == nil {
		return nil, nil, ErrAttachmentsOff
	}
	if !ValidID(id) {
		return nil, nil, ErrAttachmentNotFound
	}
	use, err := s.store.AttachmentUse(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if use != nil {
		if use.Deleted {
			return nil, nil, ErrAttachmentNotFound
		}
		p, err := s.store.Participant(ctx, use.ConversationID, userID)
		if err != nil {
			return nil, nil, err
		}
		if p == nil {
			return nil, nil, ErrAttachmentNotFound
		}
	}
	if use == nil { // not carried yet: its uploader's alone
		info, err := s.blobs.BlobInfo(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		if info == nil || info.OwnerID != userID {
			return nil, nil, ErrAttachmentNotFound
		}
	}
	rc, info, err := s.blobs.OpenBlob(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if info == nil {
		return nil, nil, ErrAttachmentNotFound
	}
	return rc, info, nil
}

// AttachmentUse is where an attachment went: the conversation of the
// message that carries it, and whether that message is deleted.
type AttachmentUse struct {
	ConversationID string
	MessageSeq     uint64
	Deleted        bool
}

// ErrInvalidAttachment answers a send naming an attachment the sender
// cannot attach.
var ErrInvalidAttachment = Errorf(KindInvalid, "invalid_attachment", "attachments must be ids of your own uploads that no message carries yet")

// checkAttachments turns a send's attachment ids into what the message will
// carry: each an upload of the sender's that no message carries yet.
func (s *Service) checkAttachments(ctx context.Context, userID string, ids []string) ([]Attachment, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if s.blobs == nil {
		return nil, ErrAttachmentsOff
	}
	if len(ids) > MaxAttachments {
		return nil, Errorf(KindInvalid, "too_many_attachments", "a message carries at most %d attachments", MaxAttachments)
	}
	out := make([]Attachment, 0, len(ids))
	seen := map[string]bool{}
	for _, id := range ids {
		if !ValidID(id) || seen[id] {
			return nil, ErrInvalidAttachment
		}
		seen[id] = true
		use, err := s.store.AttachmentUse(ctx, id)
		if err != nil {
			return nil, err
		}
		if use != nil {
			return nil, Errorf(KindConflict, "attachment_in_use", "attachment %s is carried by a message already", id)
		}
		info, err := s.blobs.BlobInfo(ctx, id)
		if err != nil {
			return nil, err
		}
		if info == nil || info.OwnerID != userID {
			return nil, ErrInvalidAttachment
		}
		// Past three quarters of its TTL an upload may be swept before
		// the message that carries it is applied everywhere.
		if s.attachmentTTL > 0 && s.now().Sub(info.CreatedAt) > s.attachmentTTL*3/4 {
			return nil, Errorf(KindInvalid, "attachment_expired", "attachment %s is too old to attach; upload it again", id)
		}
		out = append(out, Attachment{ID: info.ID, Name: info.Name, ContentType: info.ContentType, Size: info.Size})
	}
	return out, nil
}

// SweepAttachments deletes the uploads no message carried within ttl of
// their upload, and those of deleted messages; it returns how many.
func (s *Service) SweepAttachments(ctx context.Context, ttl time.Duration) (int, error) {
	if s.blobs == nil {
		return 0, nil
	}
	now := s.now()
	var doomed []string
	var serr error
	err := s.blobs.ListBlobs(ctx, func(info AttachmentInfo) bool {
		use, err := s.store.AttachmentUse(ctx, info.ID)
		if err != nil {
			serr = err
			return false
		}
		if (use == nil && now.Sub(info.CreatedAt) >= ttl) || (use != nil && use.Deleted) {
			doomed = append(doomed, info.ID)
		}
		return true
	})
	if err == nil {
		err = serr
	}
	n := 0
	for _, id := range doomed {
		if derr := s.blobs.DeleteBlob(ctx, id); derr != nil {
			err = derr
			continue
		}
		n++
	}
	return n, err
}
