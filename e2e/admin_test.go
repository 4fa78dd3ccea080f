package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/admin"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
	"github.com/hibiki-sfu/hibiki/signaling"
)

const adminKey = "test-admin-key"

// adminCall makes an admin request and decodes a JSON reply into out.
func adminCall(ctx context.Context, t *testing.T, srv *server, method, path, key, body string, out any) int {
	t.Helper()
	ctype := ""
	if body != "" {
		ctype = "application/json"
	}
	resp, data := doHTTP(ctx, t, method, srv.httpBase()+path, key, ctype, body, nil)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(data), out); err != nil {
			t.Fatalf("%s %s: %v in %q", method, path, err, data)
		}
	}
	return resp.StatusCode
}

// The admin API lists rooms, mutes a track, removes a participant (its
// connections close, the others see it leave), closes a room and sets a
// relay-only policy; without its key it answers 401.
func TestAdminAPI(t *testing.T) {
	srv := startServer(t, func(c *app.Config) { c.Admin.Key = adminKey })
	ctx := deadline(t, 30*time.Second)
	pub := newBot(ctx, t, srv, "ops", "pub", true, false)
	sub := newBot(ctx, t, srv, "ops", "sub", false, true)
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("tracks: %v", err)
	}
	for _, key := range []string{"", "wrong"} {
		if code := adminCall(ctx, t, srv, http.MethodGet, "/admin/rooms", key, "", nil); code != http.StatusUnauthorized {
			t.Errorf("GET /admin/rooms with key %q = %d, want 401", key, code)
		}
	}
	var list struct{ Rooms []admin.RoomSummary }
	if code := adminCall(ctx, t, srv, http.MethodGet, "/admin/rooms", adminKey, "", &list); code != http.StatusOK ||
		len(list.Rooms) != 1 || list.Rooms[0].Name != "ops" || list.Rooms[0].Participants != 2 || list.Rooms[0].Tracks != 2 {
		t.Fatalf("GET /admin/rooms = %d %+v", code, list)
	}
	var room admin.Room
	if code := adminCall(ctx, t, srv, http.MethodGet, "/admin/rooms/ops", adminKey, "", &room); code != http.StatusOK || len(room.Participants) != 2 {
		t.Fatalf("GET /admin/rooms/ops = %d %+v", code, room)
	}
	if p := room.Participants[0]; p.Identity != "pub" || len(p.Tracks) != 2 || p.Tracks[0].Subscribers != 1 {
		t.Errorf("first participant %+v", p)
	}

	vsid := pub.TrackSID("video")
	if code := adminCall(ctx, t, srv, http.MethodPost, "/admin/rooms/ops/tracks/"+vsid+"/mute", adminKey, `{"muted":true}`, nil); code != http.StatusOK {
		t.Fatalf("mute = %d", code)
	}
	if _, err := sub.WaitMessage(ctx, func(m *signaling.Message) bool {
		return m.Type == signaling.TypeTrackMuted && m.TrackSID == vsid && m.Muted != nil && *m.Muted
	}); err != nil {
		t.Errorf("trackMuted not seen: %v", err)
	}
	if code := adminCall(ctx, t, srv, http.MethodPost, "/admin/rooms/ops/tracks/TR_nope/mute", adminKey, `{"muted":true}`, nil); code != http.StatusNotFound {
		t.Errorf("mute of unknown track = %d, want 404", code)
	}
	if code := adminCall(ctx, t, srv, http.MethodPost, "/admin/rooms/ops/tracks/"+vsid+"/mute", adminKey, `{"mute":true}`, nil); code != http.StatusBadRequest {
		t.Errorf("mute with a misspelt field = %d, want 400", code)
	}

	pubSID := pub.Self().SID
	if code := adminCall(ctx, t, srv, http.MethodDelete, "/admin/rooms/ops/participants/"+pubSID, adminKey, "", nil); code != http.StatusOK {
		t.Fatalf("remove = %d", code)
	}
	if _, err := sub.WaitMessage(ctx, func(m *signaling.Message) bool {
		return m.Type == signaling.TypeParticipantLeft && m.ParticipantSID == pubSID
	}); err != nil {
		t.Fatalf("participantLeft not seen: %v", err)
	}
	if _, err := pub.WaitMessage(ctx, func(m *signaling.Message) bool { return m.Type == signaling.TypeRemoved }); err != nil {
		t.Errorf("removed participant was not told: %v", err)
	}
	// A removed client may come back (its token is still valid): the bot
	// would resume once its socket closes and join afresh, racing the
	// room's close below. Stop it first.
	_ = pub.Close()
	// The server closes the removed participant's socket after flushing
	// the notice; no event tells the test, so it polls the session count.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for srv.app.Signaling().Sessions() != 1 {
		select {
		case <-ctx.Done():
			t.Fatalf("removed participant's socket still open (%d sessions)", srv.app.Signaling().Sessions())
		case <-tick.C:
		}
	}
	if code := adminCall(ctx, t, srv, http.MethodDelete, "/admin/rooms/ops/participants/"+pubSID, adminKey, "", nil); code != http.StatusNotFound {
		t.Errorf("second remove = %d, want 404", code)
	}

	if code := adminCall(ctx, t, srv, http.MethodDelete, "/admin/rooms/ops", adminKey, "", nil); code != http.StatusOK {
		t.Fatalf("close room = %d", code)
	}
	if _, err := sub.WaitMessage(ctx, func(m *signaling.Message) bool { return m.Type == signaling.TypeRemoved }); err != nil {
		t.Errorf("participant of a closed room was not told: %v", err)
	}
	if code := adminCall(ctx, t, srv, http.MethodGet, "/admin/rooms/ops", adminKey, "", nil); code != http.StatusNotFound {
		t.Errorf("GET closed room = %d, want 404", code)
	}

	// Relay-only is enforced by the SFU: a participant connected without
	// TURN (loopback host candidates here) is removed.
	newBot(ctx, t, srv, "policy", "poster", true, false)
	late := newBot(ctx, t, srv, "policy", "late", false, true)
	if err := late.WaitTracks(ctx, 2); err != nil { // both connections are up
		t.Fatalf("tracks: %v", err)
	}
	policyRoom := srv.app.SFU().Room("policy")
	var pol admin.Policy
	if code := adminCall(ctx, t, srv, http.MethodPut, "/admin/rooms/policy/policy", adminKey, `{"relayOnly":true}`, &pol); code != http.StatusOK || !pol.RelayOnly {
		t.Errorf("PUT policy = %d %+v", code, pol)
	}
	if !policyRoom.Policy().RelayOnly {
		t.Error("policy not stored on the room")
	}
	if _, err := late.WaitMessage(ctx, func(m *signaling.Message) bool { return m.Type == signaling.TypeRemoved }); err != nil {
		t.Errorf("unrelayed participant not removed under relay-only: %v", err)
	}
	if code := adminCall(ctx, t, srv, http.MethodPut, "/admin/rooms/nowhere/policy", adminKey, `{"relayOnly":true}`, nil); code != http.StatusNotFound {
		t.Errorf("PUT policy of an unknown room = %d, want 404", code)
	}
}

// Without an admin key in the config the API does not exist.
func TestAdminDisabledWithoutKey(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 10*time.Second)
	if code := adminCall(ctx, t, srv, http.MethodGet, "/admin/rooms", "", "", nil); code != http.StatusNotFound {
		t.Errorf("GET /admin/rooms without a configured key = %d, want 404", code)
	}
}
