package signaling

import (
	"testing"

	"go.uber.org/goleak"
)

// Sessions run a reader and a writer goroutine each and the SFU runs pion's;
// every test must leave none behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
