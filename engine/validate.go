package engine

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
)

// Limits bounds what a client may send.
type Limits struct {
	MaxBodyBytes       int // message body after trimming
	MaxTempIDChars     int
	MaxTitleChars      int
	MaxParticipants    int
	DefaultPage        int
	MaxPage            int
	DefaultDelta       int
	MaxDelta           int
	MaxUserIDBytes     int
	MaxAddParticipants int
}

// DefaultLimits are the documented limits.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:       16 << 10,
		MaxTempIDChars:     64,
		MaxTitleChars:      200,
		MaxParticipants:    1000,
		DefaultPage:        50,
		MaxPage:            200,
		DefaultDelta:       100,
		MaxDelta:           500,
		MaxUserIDBytes:     128,
		MaxAddParticipants: 100,
	}
}

// ValidUserID reports whether id can name a user: 1 to 128 characters from
// the set Pusher allows in channel names, so private-user.<id> is a valid
// channel.
func ValidUserID(id string) bool {
	if id == "" || len(id) > DefaultLimits().MaxUserIDBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("_-=@,.;", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// ValidID reports whether s is a canonical ULID (26 characters, upper case).
func ValidID(s string) bool {
	if len(s) != ulid.EncodedSize {
		return false
	}
	id, err := ulid.ParseStrict(s)
	return err == nil && id.String() == s
}

func (l Limits) checkBody(body string) (string, error) {
	if !utf8.ValidString(body) {
		return "", Errorf(KindInvalid, "invalid_body", "body is not valid UTF-8")
	}
	body = strings.TrimSpace(body)
	if body == "" {
		return "", Errorf(KindInvalid, "body_required", "body must not be empty")
	}
	if len(body) > l.MaxBodyBytes {
		return "", Errorf(KindInvalid, "body_too_long", "body must be at most %d bytes", l.MaxBodyBytes)
	}
	for _, r := range body {
		if r != '\n' && r != '\t' && r != '\r' && unicode.IsControl(r) {
			return "", Errorf(KindInvalid, "invalid_body", "body must not contain control characters")
		}
	}
	return body, nil
}

func (l Limits) checkTempID(id string) error {
	if id == "" {
		return Errorf(KindInvalid, "client_temp_id_required", "client_temp_id is required")
	}
	if utf8.RuneCountInString(id) > l.MaxTempIDChars || !utf8.ValidString(id) {
		return Errorf(KindInvalid, "invalid_client_temp_id", "client_temp_id must be at most %d characters", l.MaxTempIDChars)
	}
	for _, r := range id {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return Errorf(KindInvalid, "invalid_client_temp_id", "client_temp_id must not contain spaces or control characters")
		}
	}
	return nil
}

func (l Limits) checkTitle(title string) (string, error) {
	title = strings.TrimSpace(title)
	if !utf8.ValidString(title) || utf8.RuneCountInString(title) > l.MaxTitleChars {
		return "", Errorf(KindInvalid, "invalid_title", "title must be valid UTF-8 of at most %d characters", l.MaxTitleChars)
	}
	for _, r := range title {
		if unicode.IsControl(r) {
			return "", Errorf(KindInvalid, "invalid_title", "title must not contain control characters")
		}
	}
	return title, nil
}

func checkUserIDs(ids []string, field string) error {
	for _, id := range ids {
		if !ValidUserID(id) {
			return Errorf(KindInvalid, "invalid_user_id", "%s holds an invalid user id", field)
		}
	}
	return nil
}

// PageLimit resolves a requested page size: 0 means def, and anything
// outside 1..max is invalid_limit.
func PageLimit(limit, def, max int) (int, error) {
	if limit == 0 {
		return def, nil
	}
	if limit < 0 || limit > max {
		return 0, Errorf(KindInvalid, "invalid_limit", "limit must be between 1 and %d", max)
	}
	return limit, nil
}
