package relay

import (
	"errors"
	"testing"
	"time"
)

// The scheme must match what coturn's use-auth-secret and browsers expect:
// a fixed vector computed with `printf %s 1700000000:alice | openssl dgst
// -sha1 -hmac s3cret -binary | base64`.
func TestCredentialsVector(t *testing.T) {
	now := time.Unix(1700000000-3600, 0)
	user, pass := Credentials("s3cret", "alice", time.Hour, now)
	if user != "1700000000:alice" {
		t.Fatalf("username %q", user)
	}
	if want := "TtElzSjT0GdnTQ9xdcRNxx96yQs="; pass != want {
		t.Fatalf("password %q, want %q", pass, want)
	}
}

func TestCheckUsername(t *testing.T) {
	now := time.Unix(1000, 0)
	cases := []struct {
		name, username, identity string
		err                      error
	}{
		{"valid", "1001:bob", "bob", nil},
		{"valid at expiry second", "1000:bob", "bob", nil},
		{"identity with colon", "2000:a:b", "a:b", nil},
		{"empty identity", "2000:", "", nil},
		{"expired", "999:bob", "", ErrExpired},
		{"no colon", "1001", "", ErrBadUsername},
		{"not a number", "soon:bob", "", ErrBadUsername},
		{"empty", "", "", ErrBadUsername},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := CheckUsername(c.username, now)
			if !errors.Is(err, c.err) || (c.err == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if id != c.identity {
				t.Fatalf("identity %q, want %q", id, c.identity)
			}
		})
	}
}

func TestPasswordDependsOnSecretAndUsername(t *testing.T) {
	a := Password("k1", "1:x")
	for _, other := range []string{Password("k2", "1:x"), Password("k1", "2:x"), Password("k1", "1:y")} {
		if other == a {
			t.Fatalf("password collision %q", a)
		}
	}
}
