package signaling

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testKey    = "key1"
	testSecret = "secret-one-0123456789abcdef"
)

// sign builds a token by hand, for shapes NewToken refuses to make.
func sign(t *testing.T, method jwt.SigningMethod, kid string, claims jwt.Claims, key any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func validClaims(iss string) Claims {
	now := time.Now()
	return Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    iss,
			Subject:   "alice",
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		},
		Room:   "demo",
		Grants: AllGrants(),
	}
}

func mustToken(t *testing.T, key, secret string, grants Grants, ttl time.Duration) string {
	t.Helper()
	tok, err := NewToken(key, secret, "demo", "alice", "Alice", grants, ttl)
	if err != nil {
		t.Fatalf("NewToken: %v", err)
	}
	return tok
}

func TestTokenRoundTrip(t *testing.T) {
	ks := KeySet{testKey: testSecret}
	tests := []struct {
		name   string
		grants Grants
	}{
		{"all grants", AllGrants()},
		{"subscribe only", Grants{CanSubscribe: true}},
		{"publish only", Grants{CanPublish: true}},
		{"none", Grants{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mustToken(t, testKey, testSecret, tt.grants, time.Hour)
			c, err := ks.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Room != "demo" || c.Identity() != "alice" || c.Name != "Alice" || c.Issuer != testKey {
				t.Errorf("claims = room %q identity %q name %q iss %q", c.Room, c.Identity(), c.Name, c.Issuer)
			}
			if c.Grants != tt.grants {
				t.Errorf("grants = %+v, want %+v", c.Grants, tt.grants)
			}
			if exp := c.ExpiresAt.Time; exp.Before(time.Now().Add(59*time.Minute)) || exp.After(time.Now().Add(61*time.Minute)) {
				t.Errorf("exp = %v, want about an hour from now", exp)
			}
		})
	}
}

func TestNewTokenRejectsMissingFields(t *testing.T) {
	tests := []struct {
		name                        string
		key, secret, room, identity string
	}{
		{"no key", "", testSecret, "r", "i"},
		{"no secret", testKey, "", "r", "i"},
		{"no room", testKey, testSecret, "", "i"},
		{"no identity", testKey, testSecret, "r", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := NewToken(tt.key, tt.secret, tt.room, tt.identity, "", AllGrants(), time.Hour)
			if !errors.Is(err, ErrTokenInvalid) || tok != "" {
				t.Fatalf("NewToken = %q, %v; want ErrTokenInvalid", tok, err)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	ks := KeySet{testKey: testSecret, "empty": ""}
	good := mustToken(t, testKey, testSecret, AllGrants(), time.Hour)
	other := mustToken(t, testKey, "another-secret", AllGrants(), time.Hour)
	parts := strings.Split(good, ".")
	otherSig := strings.Split(other, ".")[2]

	expired := validClaims(testKey)
	expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Minute))
	notYet := validClaims(testKey)
	notYet.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour))
	noExp := validClaims(testKey)
	noExp.ExpiresAt = nil
	noRoom := validClaims(testKey)
	noRoom.Room = ""
	noSub := validClaims(testKey)
	noSub.Subject = ""
	unknownIss := validClaims("nobody")

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"expired", mustToken(t, testKey, testSecret, AllGrants(), -time.Minute), ErrTokenExpired},
		{"expired hand-made", sign(t, jwt.SigningMethodHS256, testKey, expired, []byte(testSecret)), ErrTokenExpired},
		{"expired and forged", sign(t, jwt.SigningMethodHS256, testKey, expired, []byte("x")), ErrTokenInvalid},
		{"forged signature", parts[0] + "." + parts[1] + "." + otherSig, ErrTokenInvalid},
		{"signature stripped", parts[0] + "." + parts[1] + ".", ErrTokenInvalid},
		{"payload swapped", parts[0] + "." + strings.Split(mustTokenFor(t, "other-room"), ".")[1] + "." + parts[2], ErrTokenInvalid},
		{"wrong secret", other, ErrTokenInvalid},
		{"unknown kid", mustToken(t, "key9", testSecret, AllGrants(), time.Hour), ErrTokenInvalid},
		{"kid with empty secret", sign(t, jwt.SigningMethodHS256, "empty", validClaims("empty"), []byte("")), ErrTokenInvalid},
		{"no kid, unknown issuer", sign(t, jwt.SigningMethodHS256, "", unknownIss, []byte(testSecret)), ErrTokenInvalid},
		{"alg none", sign(t, jwt.SigningMethodNone, testKey, validClaims(testKey), jwt.UnsafeAllowNoneSignatureType), ErrTokenInvalid},
		{"HS512 with the right secret", sign(t, jwt.SigningMethodHS512, testKey, validClaims(testKey), []byte(testSecret)), ErrTokenInvalid},
		{"HS384 with the right secret", sign(t, jwt.SigningMethodHS384, testKey, validClaims(testKey), []byte(testSecret)), ErrTokenInvalid},
		{"missing room", sign(t, jwt.SigningMethodHS256, testKey, noRoom, []byte(testSecret)), ErrTokenInvalid},
		{"missing identity", sign(t, jwt.SigningMethodHS256, testKey, noSub, []byte(testSecret)), ErrTokenInvalid},
		{"missing exp", sign(t, jwt.SigningMethodHS256, testKey, noExp, []byte(testSecret)), ErrTokenInvalid},
		{"not valid yet", sign(t, jwt.SigningMethodHS256, testKey, notYet, []byte(testSecret)), ErrTokenInvalid},
		{"empty", "", ErrTokenInvalid},
		{"garbage", "not a token", ErrTokenInvalid},
		{"three garbage parts", "a.b.c", ErrTokenInvalid},
		{"header only", parts[0], ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ks.Verify(tt.token)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %+v, %v; want %v", c, err, tt.want)
			}
			if c != nil {
				t.Errorf("claims returned with error: %+v", c)
			}
			other := ErrTokenInvalid
			if tt.want == ErrTokenInvalid {
				other = ErrTokenExpired
			}
			if errors.Is(err, other) {
				t.Errorf("error %v matches both ErrTokenInvalid and ErrTokenExpired", err)
			}
		})
	}
}

func mustTokenFor(t *testing.T, room string) string {
	t.Helper()
	tok, err := NewToken(testKey, testSecret, room, "alice", "", AllGrants(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerifyNoKidFallsBackToIssuer(t *testing.T) {
	tok := sign(t, jwt.SigningMethodHS256, "", validClaims(testKey), []byte(testSecret))
	c, err := KeySet{testKey: testSecret}.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Identity() != "alice" {
		t.Errorf("identity = %q", c.Identity())
	}
}

func TestVerifyKeyRotation(t *testing.T) {
	const (
		oldKey, oldSecret = "2025-q4", "old-secret-aaaaaaaaaaaaaaaa"
		newKey, newSecret = "2026-q1", "new-secret-bbbbbbbbbbbbbbbb"
	)
	both := KeySet{oldKey: oldSecret, newKey: newSecret}
	newOnly := KeySet{newKey: newSecret}
	tests := []struct {
		name    string
		ks      KeySet
		key     string
		secret  string
		wantErr bool
	}{
		{"old token, both keys", both, oldKey, oldSecret, false},
		{"new token, both keys", both, newKey, newSecret, false},
		{"old token after the old key is retired", newOnly, oldKey, oldSecret, true},
		{"new token after rotation", newOnly, newKey, newSecret, false},
		{"old kid signed with the new secret", both, oldKey, newSecret, true},
		{"new kid signed with the old secret", both, newKey, oldSecret, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mustToken(t, tt.key, tt.secret, AllGrants(), time.Hour)
			c, err := tt.ks.Verify(tok)
			if tt.wantErr {
				if !errors.Is(err, ErrTokenInvalid) {
					t.Fatalf("Verify = %v, want ErrTokenInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Issuer != tt.key {
				t.Errorf("issuer = %q, want %q", c.Issuer, tt.key)
			}
		})
	}
}
