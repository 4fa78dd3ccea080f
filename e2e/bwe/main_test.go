// Package bwe holds hibiki's bandwidth-estimation scenarios: a server and
// pion bots on a pion vnet, the subscriber behind a rate-capped, delayed or
// lossy downlink. Each scenario asserts what docs/bwe.md promises and writes
// its time series to e2e/out/<scenario>.csv (cmd/bweplot draws them).
package bwe

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
