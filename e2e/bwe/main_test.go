// Package bwe holds hibiki's bandwidth-estimation scenarios: a server and
// pion bots on a pion vnet, the subscriber behind a rate-capped, delayed or
// lossy downlink. Each scenario asserts what docs/bwe.md promises and writes
// its time series to e2e/out/<scenario>.csv (cmd/bweplot draws them).
package bwe

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// scenariosEnv turns the scenarios on. They measure timing on a userspace
// network that shares the machine's two cores with the server and the
// bots: under the race detector (make unit) CPU stalls read as queueing
// delay and the figures mean nothing, so `go test ./...` skips them and
// `make bwe` (all, three rounds, no -race) or `make bwe-smoke` (part of
// make test) runs them.
const scenariosEnv = "HIBIKI_BWE_SCENARIOS"

// scenario skips t unless scenariosEnv is set.
func scenario(t *testing.T) {
	t.Helper()
	if os.Getenv(scenariosEnv) == "" {
		t.Skipf("timing scenario: set %s=1 (make bwe) to run it", scenariosEnv)
	}
}
