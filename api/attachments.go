package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"parley/engine"
)

// maxTransfers bounds the uploads and downloads in progress at once, and
// maxUserTransfers those of one user; past them a transfer answers 429
// (bounded memory and goroutines whatever the clients do, and one slow
// client cannot take them all).
const (
	maxTransfers     = 64
	maxUserTransfers = 4
)

// attachmentTypes are the content types an upload may have, by what its
// bytes are: images, PDF, plain text, common audio and video. Anything else
// (HTML, scripts, archives) is refused: the attachment routes serve files
// to a browser, and a file that can run as a page must not get there.
var attachmentTypes = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true, "image/bmp": true,
	"application/pdf": true, "text/plain": true,
	"audio/mpeg": true, "audio/wave": true, "audio/ogg": true, "video/mp4": true, "video/webm": true, "application/ogg": true,
}

// inlineTypes may be shown in the page (an <img>); the others download.
var inlineTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

func (s *Server) transfer(user string) (func(), error) {
	busy := engine.Errorf(engine.KindRateLimited, "too_many_transfers", "too many uploads and downloads at once; retry shortly")
	s.transferMu.Lock()
	if s.transfers[user] >= maxUserTransfers {
		s.transferMu.Unlock()
		return nil, busy
	}
	s.transfers[user]++
	s.transferMu.Unlock()
	release := func() {
		s.transferMu.Lock()
		if s.transfers[user]--; s.transfers[user] <= 0 {
			delete(s.transfers, user)
		}
		s.transferMu.Unlock()
	}
	select {
	case s.uploads <- struct{}{}:
		return func() { <-s.uploads; release() }, nil
	default:
		release()
		return nil, busy
	}
}

// upload stores the request body as an attachment of the caller's: at most
// --max-attachment-bytes, its content type checked against its bytes.
func (s *Server) upload(c echo.Context) error {
	if !s.uploadLimit.allow(identity(c).UserID) {
		return errRateLimited
	}
	done, err := s.transfer(identity(c).UserID)
	if err != nil {
		return err
	}
	defer done()
	r := c.Request()
	if r.ContentLength > s.maxAttachment {
		return s.tooLarge()
	}
	body := http.MaxBytesReader(c.Response(), r.Body, s.maxAttachment)
	head := make([]byte, 512)
	n, err := io.ReadFull(body, head)
	switch {
	case errors.Is(err, io.EOF):
		return engine.Errorf(engine.KindInvalid, "attachment_empty", "the upload is empty")
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return s.uploadError(err)
	}
	head = head[:n]
	sniffed, _, _ := mime.ParseMediaType(http.DetectContentType(head))
	if !attachmentTypes[sniffed] {
		return engine.Errorf(engine.KindInvalid, "unsupported_content_type", "an attachment must be an image, PDF, plain text, audio or video; these bytes are %s", sniffed)
	}
	if claimed := r.Header.Get("Content-Type"); claimed != "" {
		mt, _, err := mime.ParseMediaType(claimed)
		if err != nil || (mt != sniffed && mt != "application/octet-stream") {
			return engine.Errorf(engine.KindInvalid, "content_type_mismatch", "Content-Type says %s but the bytes are %s", claimed, sniffed)
		}
	}
	info, created, err := s.svc.Upload(r.Context(), identity(c).UserID, engine.Upload{
		Name: c.QueryParam("name"), ContentType: sniffed, Key: r.Header.Get("Idempotency-Key"),
		Body: io.MultiReader(strings.NewReader(string(head)), body),
	})
	if err != nil {
		return s.uploadError(err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, info)
}

func (s *Server) tooLarge() error {
	return engine.Errorf(engine.KindTooLarge, "attachment_too_large", "an attachment is at most %d bytes", s.maxAttachment)
}

// uploadError names a body past the limit; other errors pass.
func (s *Server) uploadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return s.tooLarge()
	}
	if engine.AsError(err) == nil {
		s.logger.Error("upload", "err", err)
		return engine.Errorf(engine.KindUnavailable, "attachments_unavailable", "the upload could not be stored; retry")
	}
	return err
}

// download serves an attachment's bytes to who may see it, with a single
// byte range when asked, and headers that keep a file from running as a
// page of this origin.
func (s *Server) download(c echo.Context) error {
	done, err := s.transfer(identity(c).UserID)
	if err != nil {
		return err
	}
	defer done()
	rc, info, err := s.svc.OpenAttachment(c.Request().Context(), identity(c).UserID, c.Param("id"))
	if err != nil {
		return err
	}
	defer rc.Close()
	h := c.Response().Header()
	etag := `"` + info.Digest + `"`
	h.Set("ETag", etag)
	h.Set("Accept-Ranges", "bytes")
	h.Set("Cache-Control", "private, max-age=86400")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cross-Origin-Resource-Policy", "same-site")
	disposition := "attachment"
	if inlineTypes[info.ContentType] {
		disposition = "inline"
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": info.Name}))
	h.Set("Content-Type", info.ContentType)
	if inm := c.Request().Header.Get("If-None-Match"); inm != "" && (inm == etag || inm == "*") {
		return c.NoContent(http.StatusNotModified)
	}
	from, to, partial := byteRange(c.Request().Header.Get("Range"), info.Size)
	if ir := c.Request().Header.Get("If-Range"); ir != "" && ir != etag {
		partial = false
	}
	if partial && from < 0 {
		h.Set("Content-Range", fmt.Sprintf("bytes */%d", info.Size))
		return c.NoContent(http.StatusRequestedRangeNotSatisfiable)
	}
	if !partial {
		h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
		c.Response().WriteHeader(http.StatusOK)
		_, _ = io.Copy(c.Response(), rc) // a failure here can only cut the answer short
		return nil
	}
	if _, err := io.CopyN(io.Discard, rc, from); err != nil {
		return err
	}
	h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, info.Size))
	h.Set("Content-Length", strconv.FormatInt(to-from+1, 10))
	c.Response().WriteHeader(http.StatusPartialContent)
	_, _ = io.CopyN(c.Response(), rc, to-from+1)
	return nil
}

// byteRange reads a Range header of one byte range ("bytes=a-b", "a-",
// "-n") against size: partial is false when there is none or it is not one
// range (the whole file is served), from is -1 when it cannot be satisfied.
func byteRange(header string, size int64) (from, to int64, partial bool) {
	spec, ok := strings.CutPrefix(header, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, false
	}
	var err error
	switch {
	case a == "" && b == "":
		return 0, 0, false
	case a == "":
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return -1, 0, true
		}
		return max(size-n, 0), size - 1, size > 0
	default:
		if from, err = strconv.ParseInt(a, 10, 64); err != nil || from < 0 {
			return 0, 0, false
		}
		to = size - 1
		if b != "" {
			if to, err = strconv.ParseInt(b, 10, 64); err != nil || to < from {
				return 0, 0, false
			}
			to = min(to, size-1)
		}
		if from >= size {
			return -1, 0, true
		}
		return from, to, true
	}
}
