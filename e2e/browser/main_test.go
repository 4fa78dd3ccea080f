package browser

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hibiki-sfu/hibiki/e2e/internal/nsrun"
)

// Environment variables between the outer test binary and the one it
// re-executes inside the namespace.
const (
	envInside      = "HIBIKI_BROWSER_NETNS"   // set in the re-executed binary
	envUnavailable = "HIBIKI_BROWSER_MISSING" // why the suite cannot run here
	envChromium    = "HIBIKI_CHROMIUM"        // optional path of the browser
)

// The namespace's veth pair. The server hands out candidates on serverIP
// (and loopback); Chromium gathers on both ends.
const (
	serverIP = "10.77.0.1"
	peerIP   = "10.77.0.2"
)

func TestMain(m *testing.M) {
	if os.Getenv(envInside) == "" {
		missing := prerequisites()
		if missing == "" {
			os.Exit(nsrun.Reexec("browser tests", envInside, true))
		}
		_ = os.Setenv(envUnavailable, missing)
		os.Exit(m.Run())
	}
	if err := setupNetwork(); err != nil {
		_ = os.Setenv(envUnavailable, "network namespace setup: "+err.Error())
	}
	os.Exit(m.Run())
}

// requireBrowserEnv skips (or under CI=true fails) a test that cannot run.
func requireBrowserEnv(t *testing.T) {
	t.Helper()
	missing := os.Getenv(envUnavailable)
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("browser tests cannot run: %s", missing)
	}
	t.Skipf("browser tests skipped: %s", missing)
}

// prerequisites names what the suite lacks on this machine, or returns "".
func prerequisites() string {
	var missing []string
	if _, err := chromiumPath(); err != nil {
		missing = append(missing, err.Error())
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+" not found in PATH (Debian packages util-linux and iproute2)")
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

// chromiumPath finds Debian's chromium (or the binary named by HIBIKI_CHROMIUM).
func chromiumPath() (string, error) {
	if p := os.Getenv(envChromium); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", envChromium, p, err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not found in PATH (apt-get install -y chromium, or set " + envChromium + ")")
}

// setupNetwork brings up loopback and the veth pair inside the namespace.
// IPv6 is off in it: the link-local addresses the kernel would add a moment
// after the links come up make Chromium see a network change, which fails
// page loads in flight with ERR_NETWORK_CHANGED.
func setupNetwork() error {
	for _, conf := range []string{"all", "default"} {
		path := "/proc/sys/net/ipv6/conf/" + conf + "/disable_ipv6"
		if err := os.WriteFile(path, []byte("1"), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("disable IPv6: %w", err)
		}
	}
	steps := [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "hv0", "type", "veth", "peer", "name", "hv1"},
		{"addr", "add", serverIP + "/24", "dev", "hv0"},
		{"addr", "add", peerIP + "/24", "dev", "hv1"},
		{"link", "set", "hv0", "up"},
		{"link", "set", "hv1", "up"},
	}
	if err := nsrun.IP(steps...); err != nil {
		return err
	}
	return nil
}
