package sfu

import (
	"testing"
	"time"
)

func members(spec ...string) []p2pMember {
	out := make([]p2pMember, 0, len(spec))
	for _, s := range spec {
		m := p2pMember{SID: s[:1], Capable: true}
		for _, flag := range s[1:] {
			switch flag {
			case '-':
				m.Capable = false
			case 'r':
				m.RelayOnly = true
			}
		}
		out = append(out, m)
	}
	return out
}

// TestP2PEligible covers who may go direct at all: exactly two
// participants, both capable, P2P on, no relay-only policy.
func TestP2PEligible(t *testing.T) {
	cases := []struct {
		name      string
		view      p2pView
		want      p2pPair
		reason    string
		wantReady bool
	}{
		{"alone", p2pView{Enabled: true, Members: members("a")}, p2pPair{}, P2PEndParticipants, false},
		{"two capable", p2pView{Enabled: true, Members: members("a", "b")}, p2pPair{"a", "b"}, "", true},
		{"first joined offers", p2pView{Enabled: true, Members: members("b", "a")}, p2pPair{"b", "a"}, "", true},
		{"three", p2pView{Enabled: true, Members: members("a", "b", "c")}, p2pPair{}, P2PEndParticipants, false},
		{"one without the capability", p2pView{Enabled: true, Members: members("a", "b-")}, p2pPair{}, P2PEndCapabilities, false},
		{"one relay-only participant", p2pView{Enabled: true, Members: members("ar", "b")}, p2pPair{}, P2PEndCapabilities, false},
		{"relay-only room", p2pView{Enabled: true, RelayOnly: true, Members: members("a", "b")}, p2pPair{}, P2PEndRelayOnly, false},
		{"disabled", p2pView{Members: members("a", "b")}, p2pPair{}, P2PEndDisabled, false},
		{"empty", p2pView{Enabled: true}, p2pPair{}, P2PEndParticipants, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pl := newP2PPlanner()
			pair, ok, wait, reason := pl.plan(time.Unix(100, 0), c.view)
			if pair != c.want || ok != c.wantReady || wait != 0 || reason != c.reason {
				t.Fatalf("plan = %v ok=%v wait=%v reason=%q; want %v ok=%v wait=0 reason=%q",
					pair, ok, wait, reason, c.want, c.wantReady, c.reason)
			}
		})
	}
}

// step is one moment of a room's life: the members at that time, an
// optional session end before planning, and the expected decision.
type step struct {
	at       time.Duration // since the start
	members  []p2pMember
	end      bool // the current session ended (before this plan)
	failed   bool // ... because it failed
	wantOK   bool
	wantWait time.Duration
}

// TestP2PHysteresis walks rooms through joins, leaves and failures and
// checks when the pair may go direct: at once the first time, after 5 s of
// unbroken eligibility after an earlier session, and after a growing
// backoff when the direct connection failed.
func TestP2PHysteresis(t *testing.T) {
	two := members("a", "b")
	three := members("a", "b", "c")
	cases := []struct {
		name  string
		steps []step
	}{
		{"first pair goes direct at once", []step{
			{at: 0, members: members("a")},
			{at: time.Second, members: two, wantOK: true},
		}},
		{"third joins, leaves: 5 s settle", []step{
			{at: 0, members: two, wantOK: true},
			{at: 10 * time.Second, members: three, end: true},
			{at: 20 * time.Second, members: two, wantWait: 5 * time.Second},
			{at: 23 * time.Second, members: two, wantWait: 2 * time.Second},
			{at: 25 * time.Second, members: two, wantOK: true},
		}},
		{"a visitor coming and going restarts the settle (no flapping)", []step{
			{at: 0, members: two, wantOK: true},
			{at: time.Second, members: three, end: true},
			{at: 2 * time.Second, members: two, wantWait: 5 * time.Second},
			{at: 4 * time.Second, members: three},
			{at: 5 * time.Second, members: two, wantWait: 5 * time.Second},
			{at: 9 * time.Second, members: two, wantWait: time.Second},
			{at: 10 * time.Second, members: two, wantOK: true},
		}},
		{"a failed pair backs off 30 s, then 60 s", []step{
			{at: 0, members: two, wantOK: true},
			{at: 5 * time.Second, members: two, end: true, failed: true, wantWait: 30 * time.Second},
			{at: 20 * time.Second, members: two, wantWait: 15 * time.Second},
			{at: 35 * time.Second, members: two, wantOK: true},
			{at: 40 * time.Second, members: two, end: true, failed: true, wantWait: 60 * time.Second},
			{at: 100 * time.Second, members: two, wantOK: true},
		}},
		{"a new peer is not held back by the old pair's failure", []step{
			{at: 0, members: two, wantOK: true},
			{at: time.Second, members: two, end: true, failed: true, wantWait: 30 * time.Second},
			{at: 2 * time.Second, members: members("a")},
			{at: 3 * time.Second, members: members("a", "c"), wantWait: 5 * time.Second},
			{at: 8 * time.Second, members: members("a", "c"), wantOK: true},
		}},
		{"ending for capabilities keeps the settle", []step{
			{at: 0, members: two, wantOK: true},
			{at: time.Second, members: members("a", "b-"), end: true},
			{at: 2 * time.Second, members: two, wantWait: 5 * time.Second},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pl := newP2PPlanner()
			t0 := time.Unix(1000, 0)
			var cur p2pPair
			for i, s := range c.steps {
				now := t0.Add(s.at)
				if s.end {
					if cur.zero() {
						t.Fatalf("step %d: ends a session that never started", i)
					}
					pl.ended(now, cur, s.failed)
					cur = p2pPair{}
				}
				pair, ok, wait, _ := pl.plan(now, p2pView{Enabled: true, Members: s.members})
				if ok != s.wantOK || wait != s.wantWait {
					t.Fatalf("step %d (t=%v, %d members): ok=%v wait=%v; want ok=%v wait=%v",
						i, s.at, len(s.members), ok, wait, s.wantOK, s.wantWait)
				}
				if ok {
					cur = pair
				}
			}
		})
	}
}

func TestP2PBackoffCapped(t *testing.T) {
	pl := newP2PPlanner()
	now := time.Unix(0, 0)
	pair := p2pPair{"a", "b"}
	view := p2pView{Enabled: true, Members: members("a", "b")}
	for range 40 {
		pl.plan(now, view)
		pl.ended(now, pair, true)
	}
	_, ok, wait, _ := pl.plan(now, view)
	if ok || wait != p2pMaxBackoff {
		t.Fatalf("after 40 failures: ok=%v wait=%v, want the %v cap", ok, wait, p2pMaxBackoff)
	}
	pl.plan(now, p2pView{Enabled: true, Members: members("a")})
	if len(pl.fails) != 0 {
		t.Fatalf("failure records of a departed participant kept: %v", pl.fails)
	}
}
