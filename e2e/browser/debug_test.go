package browser

import (
	"testing"
	"time"
)

func TestDebugStats(t *testing.T) {
	requireBrowserEnv(t)
	ctx := deadline(t, 60*time.Second)
	srv := startServer(t)
	alice := newBrowser(t, ctx, "alice")
	bob := newBrowser(t, ctx, "bob")
	joinRoom(ctx, t, srv, alice, "dbg", "Alice")
	joinRoom(ctx, t, srv, bob, "dbg", "Bob")
	alice.mustEval(ctx, `(() => { window.__log = []; const r = window.hibikiRoom; const pc = r.pcs.subscribe;
		const L = (m) => window.__log.push((performance.now()|0) + ' ' + m);
		pc.addEventListener('connectionstatechange', () => L('conn ' + pc.connectionState));
		pc.addEventListener('signalingstatechange', () => L('sig ' + pc.signalingState));
		pc.addEventListener('iceconnectionstatechange', () => L('ice ' + pc.iceConnectionState));
		r.on('trackSubscribed', (t) => L('sub ' + t.sid + ' ' + t.kind + ' mid ' + t.mid));
		r.on('trackUnsubscribed', (t) => L('unsub ' + t.sid));
		return true; })()`, nil)
	for i := 0; i < 30; i++ {
		var s string
		alice.mustEval(ctx, `(async () => { const s = await window.hibikiRoom.statsSummary(); const x = s.subscribe;
			return (performance.now()|0) + ' ' + x.connectionState + ' ' + (x.candidatePair ? x.candidatePair.local + '>' + x.candidatePair.remote : '-') + ' ' + x.inbound.map(i => i.kind + ':' + i.mid + ':' + i.packetsReceived).join(','); })()`, &s)
		t.Log(s)
		sleep(ctx, 300*time.Millisecond)
	}
	var log []string
	alice.mustEval(ctx, `window.__log`, &log)
	for _, l := range log {
		t.Log(l)
	}
}
