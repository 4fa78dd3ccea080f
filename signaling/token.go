package signaling

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Grants are the permissions a join token gives its holder. They are checked
// on every request, not only at join, so a token cannot be widened later.
type Grants struct {
	CanPublish     bool `json:"canPublish"`
	CanSubscribe   bool `json:"canSubscribe"`
	CanPublishData bool `json:"canPublishData"`
}

// AllGrants is what a full conference participant needs.
func AllGrants() Grants {
	return Grants{CanPublish: true, CanSubscribe: true, CanPublishData: true}
}

// Claims is the payload of a join token. Identity travels as the standard
// "sub" claim and the API key as "iss", so ordinary JWT tooling reads them.
type Claims struct {
	jwt.RegisteredClaims
	Name   string `json:"name,omitempty"`
	Room   string `json:"room"`
	Grants Grants `json:"grants"`
}

// Identity is the participant identity the token was issued for.
func (c *Claims) Identity() string { return c.Subject }

// Token errors. Callers map them to the wire codes bad_token and
// token_expired with errors.Is.
var (
	ErrTokenInvalid = errors.New("signaling: invalid token")
	ErrTokenExpired = errors.New("signaling: token expired")
)

// KeySet maps API keys to their secrets. Several keys let operators rotate
// secrets without cutting off clients holding tokens signed by the old one.
type KeySet map[string]string

// NewToken signs a join token for identity in room with the given key. It is
// what `hibiki token`, the bots and the development token endpoint use.
func NewToken(key, secret, room, identity, name string, grants Grants, ttl time.Duration) (string, error) {
	return NewAudienceToken(key, secret, "", room, identity, name, grants, ttl)
}

// NewAudienceToken is NewToken for a server that checks the token's
// audience (signaling.token_audience); an empty audience sets none.
func NewAudienceToken(key, secret, audience, room, identity, name string, grants Grants, ttl time.Duration) (string, error) {
	if key == "" || secret == "" {
		return "", fmt.Errorf("%w: empty key or secret", ErrTokenInvalid)
	}
	if room == "" || identity == "" {
		return "", fmt.Errorf("%w: room and identity are required", ErrTokenInvalid)
	}
	now := time.Now()
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    key,
			Subject:   identity,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Name:   name,
		Room:   room,
		Grants: grants,
	}
	if audience != "" {
		claims.Audience = jwt.ClaimStrings{audience}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = key
	s, err := tok.SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// Verify checks a token's signature against the key named in its header,
// its expiry and its required claims.
func (ks KeySet) Verify(token string) (*Claims, error) { return ks.verify(token, "") }

// AudienceVerifier is a KeySet that also requires the token's aud claim to
// hold Audience, so tokens minted for another service do not open this one.
type AudienceVerifier struct {
	Keys     KeySet
	Audience string
}

// Verify implements Verifier.
func (v AudienceVerifier) Verify(token string) (*Claims, error) {
	return v.Keys.verify(token, v.Audience)
}

func (ks KeySet) verify(token, audience string) (*Claims, error) {
	var claims Claims
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(5 * time.Second),
	}
	if audience != "" {
		opts = append(opts, jwt.WithAudience(audience))
	}
	parser := jwt.NewParser(opts...)
	_, err := parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			kid = claims.Issuer
		}
		secret, ok := ks[kid]
		if !ok || secret == "" {
			return nil, fmt.Errorf("unknown key %q", kid)
		}
		return []byte(secret), nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, fmt.Errorf("%w: %w", ErrTokenExpired, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrTokenInvalid, err)
	}
	if claims.Room == "" || claims.Subject == "" {
		return nil, fmt.Errorf("%w: token lacks room or identity", ErrTokenInvalid)
	}
	return &claims, nil
}

// The development key pair is built in so that `go run ./cmd/hibiki` and the
// bots work with nothing configured. The server logs a loud warning while it
// is in use; production configs must replace it.
const (
	DevAPIKey    = "devkey"
	DevAPISecret = "hibiki-development-secret-do-not-use-in-production"
)
