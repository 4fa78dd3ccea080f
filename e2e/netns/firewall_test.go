package netns

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// nft runs one nft command.
func nft(cmd string) error {
	out, err := exec.Command("nft", strings.Fields(cmd)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("nft %s: %w: %s", cmd, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// firewall is the test's nftables table. Traffic between addresses of one
// namespace goes over lo, so rules match addresses, not interfaces, and
// sit in both the output and the input hook.
type firewall struct{ t *testing.T }

func newFirewall(t *testing.T) *firewall {
	t.Helper()
	for _, c := range []string{
		"add table inet hibiki",
		"add chain inet hibiki in { type filter hook input priority 0 ; }",
		"add chain inet hibiki out { type filter hook output priority 0 ; }",
	} {
		if err := nft(c); err != nil {
			t.Fatal(err)
		}
	}
	f := &firewall{t: t}
	t.Cleanup(func() { _ = nft("delete table inet hibiki") })
	return f
}

// drop adds a rule (an nft match expression) to both hooks.
func (f *firewall) drop(match string) {
	f.t.Helper()
	for _, chain := range []string{"in", "out"} {
		if err := nft("add rule inet hibiki " + chain + " " + match + " drop"); err != nil {
			f.t.Fatal(err)
		}
	}
}

// blockUDP drops every UDP datagram from or to ip.
func (f *firewall) blockUDP(ip string) {
	f.drop("ip saddr " + ip + " meta l4proto udp")
	f.drop("ip daddr " + ip + " meta l4proto udp")
}

// cut drops everything from or to ip: the bot's link is down.
func (f *firewall) cut(ip string) {
	f.drop("ip saddr " + ip)
	f.drop("ip daddr " + ip)
}

// restore removes every rule.
func (f *firewall) restore() {
	f.t.Helper()
	for _, chain := range []string{"in", "out"} {
		if err := nft("flush chain inet hibiki " + chain); err != nil {
			f.t.Fatal(err)
		}
	}
}
