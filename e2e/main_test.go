package e2e

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: every
// server, session, peer connection and bot must be gone when a test ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
