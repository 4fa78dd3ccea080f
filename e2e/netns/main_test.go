package netns

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/hibiki-sfu/hibiki/e2e/internal/nsrun"
)

// Environment variables between the outer test binary and the one it
// re-executes inside the namespace.
const (
	envInside      = "HIBIKI_NETNS_INSIDE"  // set in the re-executed binary
	envUnavailable = "HIBIKI_NETNS_MISSING" // why the suite cannot run here
)

// The namespace's veth pair: the server on serverIP, bots on botIPs (one
// per bot, so a rule can hit one bot and spare the other).
const (
	serverIP = "10.77.0.1"
	botA     = "10.77.0.2"
	botB     = "10.77.0.3"
	// IPv6 is tested on unique local addresses: pion never gathers ::1
	// (its candidate filter takes it for an IPv4-compatible address).
	serverIP6 = "fd77::1"
	botA6     = "fd77::2"
	botB6     = "fd77::3"
)

func TestMain(m *testing.M) {
	if os.Getenv(envInside) == "" {
		missing := prerequisites()
		if missing == "" {
			os.Exit(nsrun.Reexec("netns tests", envInside, false))
		}
		_ = os.Setenv(envUnavailable, missing)
		os.Exit(m.Run())
	}
	if err := setupNetwork(); err != nil {
		_ = os.Setenv(envUnavailable, "network namespace setup: "+err.Error())
	}
	goleak.VerifyTestMain(m)
}

// requireNetns skips (or under CI=true fails) a test that cannot run.
func requireNetns(t *testing.T) {
	t.Helper()
	missing := os.Getenv(envUnavailable)
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("connectivity tests cannot run: %s", missing)
	}
	t.Skipf("connectivity tests skipped: %s", missing)
}

// prerequisites names what the suite lacks on this machine, or returns "".
func prerequisites() string {
	var missing []string
	tools := map[string]string{"unshare": "util-linux", "ip": "iproute2", "nft": "nftables"}
	for _, tool := range []string{"unshare", "ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, fmt.Sprintf("%s not found in PATH (Debian package %s)", tool, tools[tool]))
		}
	}
	if len(missing) == 0 {
		var stderr bytes.Buffer
		cmd := exec.Command("unshare", "--net", "true")
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			missing = append(missing, fmt.Sprintf("cannot create a network namespace (`unshare --net` needs root or CAP_SYS_ADMIN): %v %s",
				err, strings.TrimSpace(stderr.String())))
		}
	}
	return strings.Join(missing, "; ")
}

// setupNetwork brings up loopback (with ::1) and the veth pair, and checks
// that nftables works in the namespace.
func setupNetwork() error {
	steps := [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "hv0", "type", "veth", "peer", "name", "hv1"},
		{"addr", "add", serverIP + "/24", "dev", "hv0"},
		{"addr", "add", botA + "/24", "dev", "hv1"},
		{"addr", "add", botB + "/24", "dev", "hv1"},
		{"addr", "add", serverIP6 + "/64", "dev", "hv0", "nodad"},
		{"addr", "add", botA6 + "/64", "dev", "hv1", "nodad"},
		{"addr", "add", botB6 + "/64", "dev", "hv1", "nodad"},
		{"link", "set", "hv0", "up"},
		{"link", "set", "hv1", "up"},
	}
	if err := nsrun.IP(steps...); err != nil {
		return err
	}
	if err := nft("add table inet probe"); err != nil {
		return err
	}
	return nft("delete table inet probe")
}
