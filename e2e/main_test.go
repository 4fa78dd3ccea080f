package e2e

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: every
// server, session, peer connection and bot must be gone when a test ends.
// With nodeProcessEnv set the binary is not a test run but one cluster
// node (startNodeProcess), which a test can kill -9.
func TestMain(m *testing.M) {
	if os.Getenv(nodeProcessEnv) != "" {
		os.Exit(runNodeProcess())
	}
	goleak.VerifyTestMain(m)
}
