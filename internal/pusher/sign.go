package pusher

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"parley/engine"
	"parley/internal/pusher/apps"
)

// MaxPusherClockSkew is how far a signed request's auth_timestamp may be
// from the server's clock (Pusher's 600 s).
const MaxPusherClockSkew = 600 * time.Second

// Errors of the Pusher HTTP API's authentication, all 401.
var (
	errPusherAuthKey   = engine.Errorf(engine.KindUnauthorized, "invalid_auth_key", "auth_key does not match this app's key")
	errPusherVersion   = engine.Errorf(engine.KindUnauthorized, "invalid_auth_version", "auth_version must be 1.0")
	errPusherTimestamp = engine.Errorf(engine.KindUnauthorized, "timestamp_expired", "auth_timestamp is missing or more than %d s from the server's time", int(MaxPusherClockSkew/time.Second))
	errPusherBodyMD5   = engine.Errorf(engine.KindUnauthorized, "body_md5_mismatch", "body_md5 is missing or is not the MD5 of the request body")
	errPusherDuplicate = engine.Errorf(engine.KindUnauthorized, "duplicate_parameter", "a query parameter is given more than once")
	errPusherSignature = engine.Errorf(engine.KindUnauthorized, "invalid_signature", "auth_signature is not HMAC-SHA256 of \"METHOD\\nPATH\\nsorted query\" with this app's secret")
)

// PusherStringToSign is what a Pusher HTTP API request signs: the method,
// the path and the query parameters but auth_signature, sorted by key,
// joined as key=value with &, values unescaped.
func PusherStringToSign(method, path string, query url.Values) string {
	keys := make([]string, 0, len(query))
	for k := range query {
		if k != "auth_signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+strings.Join(query[k], ","))
	}
	return method + "\n" + path + "\n" + strings.Join(parts, "&")
}

// SignPusherRequest returns the auth_signature of a request.
func SignPusherRequest(secret, method, path string, query url.Values) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(PusherStringToSign(method, path, query)))
	return hex.EncodeToString(mac.Sum(nil))
}

// verifyPusherRequest checks a signed Pusher HTTP API request: each query
// parameter given once, the app's key, auth_version 1.0, a timestamp within
// MaxPusherClockSkew of now, the body's MD5 when there is a body, and the
// signature. A repeated parameter is refused because the string to sign
// cannot tell a=x&a=y from a="x,y", and handlers read only the first.
func verifyPusherRequest(app *apps.App, method, path string, query url.Values, body []byte, now time.Time) error {
	for _, v := range query {
		if len(v) > 1 {
			return errPusherDuplicate
		}
	}
	if query.Get("auth_key") != app.Key {
		return errPusherAuthKey
	}
	if query.Get("auth_version") != "1.0" {
		return errPusherVersion
	}
	ts, err := strconv.ParseInt(query.Get("auth_timestamp"), 10, 64)
	if err != nil {
		return errPusherTimestamp
	}
	if d := now.Sub(time.Unix(ts, 0)); d > MaxPusherClockSkew || d < -MaxPusherClockSkew {
		return errPusherTimestamp
	}
	if len(body) > 0 || query.Has("body_md5") {
		sum := md5.Sum(body)
		if !hmac.Equal([]byte(query.Get("body_md5")), []byte(hex.EncodeToString(sum[:]))) {
			return errPusherBodyMD5
		}
	}
	want := SignPusherRequest(app.Secret, method, path, query)
	if !hmac.Equal([]byte(query.Get("auth_signature")), []byte(want)) {
		return errPusherSignature
	}
	return nil
}
