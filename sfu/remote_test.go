package sfu

import (
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
)

// eventLog is a Notifier that keeps every event.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
}

func (l *eventLog) Notify(ev Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, ev)
}

func (l *eventLog) has(match func(Event) bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.evs, match)
}

// Remote participants (stand-ins for those of another node) are seen by
// the local ones, take part in every room-wide operation without having
// connections of their own, keep no room open, and follow their node's
// news: a mute, a track gone, the node gone.
func TestRemoteParticipants(t *testing.T) {
	s, err := New(DefaultRTCConfig(), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	log := &eventLog{}
	local, _, err := s.Join("r", JoinRequest{Identity: "here", Grants: Grants{CanSubscribe: true, CanPublishData: true}}, log)
	if err != nil {
		t.Fatal(err)
	}
	r := local.Room()
	far := ParticipantInfo{SID: "PA_far", Identity: "there", Name: "There", Tracks: []TrackInfo{
		{SID: "TR_v", Kind: KindVideo, Layers: []LayerSpec{{RID: "q"}, {RID: "h"}}},
		{SID: "TR_a", Kind: KindAudio},
	}}
	r.SyncRemote("b", []ParticipantInfo{far})
	r.SyncRemote("b", []ParticipantInfo{far}) // idempotent
	if got := len(r.Participants()); got != 2 || len(r.Local()) != 1 || !slices.Equal(r.RemoteNodes(), []string{"b"}) {
		t.Fatalf("participants %d, local %d, remote nodes %v", got, len(r.Local()), r.RemoteNodes())
	}
	p := r.Participant("PA_far")
	if p == nil || !p.Remote() || p.Origin() != "b" {
		t.Fatalf("remote participant %+v", p)
	}
	if !log.has(func(ev Event) bool { e, ok := ev.(ParticipantJoined); return ok && e.Participant.SID == "PA_far" }) {
		t.Error("the local participant was not told of the remote one")
	}
	if infos := r.LocalInfos(); len(infos) != 1 || infos[0].SID != local.SID() {
		t.Errorf("LocalInfos %+v", infos)
	}

	// Room-wide operations pass over it.
	r.SetRelayOnly(true)
	r.SetRelayOnly(false)
	if pair, err := p.SelectedCandidatePair(TargetSubscribe); pair != nil || err != nil {
		t.Errorf("remote pair %v, %v", pair, err)
	}
	targets, remote, missing := r.dataTargets(local, nil)
	if len(targets) != 0 || len(missing) != 0 || !slices.Equal(slices.Collect(maps.Keys(remote)), []string{"b"}) || remote["b"] != nil {
		t.Errorf("broadcast targets %v, remote %v, missing %v", targets, remote, missing)
	}
	if _, remote, missing = r.dataTargets(local, []string{"PA_far", "PA_nobody"}); !slices.Equal(remote["b"], []string{"PA_far"}) || !slices.Equal(missing, []string{"PA_nobody"}) {
		t.Errorf("targeted: remote %v, missing %v", remote, missing)
	}
	if err := r.Relay("TR_v", "c", nil); err == nil {
		t.Error("a remote participant's track was relayed onward")
	}

	// Its node's news: the audio track is gone, then the node.
	r.SyncRemote("b", []ParticipantInfo{{SID: "PA_far", Identity: "there", Tracks: far.Tracks[:1]}})
	p.mu.Lock()
	_, pendingAudio := p.pending["TR_a"]
	p.mu.Unlock()
	if pendingAudio {
		t.Error("the audio track gone on b is still expected")
	}
	r.SyncRemote("b", nil)
	if r.Participant("PA_far") != nil {
		t.Fatal("the remote participant stayed after its node left")
	}
	if !log.has(func(ev Event) bool { e, ok := ev.(ParticipantLeft); return ok && e.SID == "PA_far" }) {
		t.Error("the local participant was not told the remote one left")
	}

	// A remote participant never keeps a room open.
	r.SyncRemote("b", []ParticipantInfo{far})
	local.Leave()
	r.closeIfEmpty()
	if s.Room("r") != nil || r.Participant("PA_far") != nil {
		t.Error("a room with only remote participants stayed open")
	}
	// The same SID as a local participant is refused.
	r2, _, err := s.Join("r2", JoinRequest{Identity: "x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Room().addRemote("b", ParticipantInfo{SID: r2.SID()}); err == nil {
		t.Error("a remote participant replaced a local one")
	}
}
