package relay

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST API convention is HMAC-SHA1; browsers and coturn expect it
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Errors of credential checks.
var (
	ErrBadUsername = errors.New("relay: username is not expiry:identity")
	ErrExpired     = errors.New("relay: credential expired")
)

// Credentials mints a time-limited TURN credential following the TURN REST
// API convention (draft-uberti-behave-turn-rest, also what coturn's
// use-auth-secret checks): username = "<unix expiry>:<identity>",
// password = base64(HMAC-SHA1(secret, username)). Any TURN server that
// shares secret can verify it without a database, so an external coturn
// configured with the same secret accepts hibiki's credentials too.
func Credentials(secret, identity string, ttl time.Duration, now time.Time) (username, password string) {
	username = strconv.FormatInt(now.Add(ttl).Unix(), 10) + ":" + identity
	return username, Password(secret, username)
}

// Password is base64(HMAC-SHA1(secret, username)).
func Password(secret, username string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username)) // a hash.Hash never returns a write error
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// CheckUsername parses a REST API username and reports the identity in it,
// or why it is not acceptable at now.
func CheckUsername(username string, now time.Time) (identity string, err error) {
	exp, identity, ok := strings.Cut(username, ":")
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrBadUsername, username)
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: %q", ErrBadUsername, username)
	}
	if now.Unix() > t {
		return "", fmt.Errorf("%w: %s", ErrExpired, time.Unix(t, 0).UTC().Format(time.RFC3339))
	}
	return identity, nil
}
