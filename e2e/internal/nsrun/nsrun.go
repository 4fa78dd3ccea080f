// Package nsrun runs a test binary inside a network namespace of its own,
// which is where hibiki's end-to-end tests put what must not touch the
// machine's real interfaces: Chromium (which needs a non-loopback interface
// to finish ICE gathering) and nftables-impaired links.
package nsrun

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Reexec runs this test binary again, with the same arguments, under
// `unshare --net`, with env set to "1" so the child knows it is inside, and
// returns the child's exit code. With raise, the child runs at nice -10 where
// that is allowed: suites that measure real-time media (frame freezes) then
// keep their pace on a machine busy with other packages' tests. who names
// the suite in error messages.
func Reexec(who, env string, raise bool) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: cannot find the test binary: %v\n", who, err)
		return 1
	}
	args := append([]string{"--net", "--", self}, os.Args[1:]...)
	cmd := exec.Command("unshare", args...)
	if nice, err := exec.LookPath("nice"); raise && err == nil && os.Geteuid() == 0 {
		cmd = exec.Command(nice, append([]string{"-n", "-10", "unshare"}, args...)...)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), env+"=1")
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "%s: unshare --net: %v\n", who, err)
		return 1
	}
	return 0
}

// IP runs `ip` with each argument list in turn, stopping at the first
// failure, whose output it returns in the error.
func IP(steps ...[]string) error {
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(s, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
