package sfu

import (
	"crypto/rand"
	"encoding/base32"
)

// newID returns prefix plus 16 random base32 characters (80 bits), enough
// that SIDs never collide across a node's lifetime.
func newID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return prefix + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}
