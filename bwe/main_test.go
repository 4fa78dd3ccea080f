package bwe

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind; the
// package starts none, and this keeps it that way.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
