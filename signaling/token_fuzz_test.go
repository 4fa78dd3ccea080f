package signaling

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzVerifyToken feeds join tokens, which any client sends, to the key
// set's verification. Nothing may panic, every refusal is a typed token
// error, and an accepted token names a room and an identity and was signed
// with HS256 (a mutation can only be accepted if it kept the signed parts).
func FuzzVerifyToken(f *testing.F) {
	keys := KeySet{"k1": "secret-one"}
	tok, err := NewToken("k1", "secret-one", "room", "alice", "Alice", AllGrants(), time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	parts := strings.Split(tok, ".")
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + ".")
	f.Add(parts[0] + "." + parts[1])
	f.Fuzz(func(t *testing.T, token string) {
		c, err := keys.Verify(token)
		if err != nil {
			if !errors.Is(err, ErrTokenInvalid) && !errors.Is(err, ErrTokenExpired) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if c.Room == "" || c.Identity() == "" {
			t.Fatalf("accepted a token without room or identity: %+v", c)
		}
		if p := strings.Split(token, "."); len(p) != 3 || p[2] == "" {
			t.Fatalf("accepted an unsigned token %q", token)
		}
	})
}
