package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
)

func TestTableAndReportOfIdleBots(t *testing.T) {
	clips, err := media.Load()
	if err != nil {
		t.Fatal(err)
	}
	o := options{url: "ws://127.0.0.1:1/ws", room: "r", publishers: 1, subscribers: 2, duration: time.Second,
		key: "k", secret: "s"}
	ms, err := newMembers(o, clips, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(ms)
	var buf bytes.Buffer
	tbl := newLiveTable(&buf, o)
	tbl.print(ms, time.Second)
	tbl.print(ms, 2*time.Second)
	out := buf.String()
	for _, want := range []string{"pub-1", "sub-2", "0/2", "kbps in", "total"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	rep := buildReport(o, ms, 2*time.Second)
	if rep.TracksExpected != 4 || rep.TracksReceived != 0 || rep.healthy() {
		t.Errorf("report %+v", rep)
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := writeJSON(path, rep); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(data, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"publishers", "subscribers", "tracks_expected", "tracks_received", "join_to_first_frame_ms",
		"frames_received", "packets_received", "freezes", "packet_loss_pct", "duration_s", "incomplete_frames", "first_frame_not_keyframe"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	var sum bytes.Buffer
	writeSummary(&sum, rep)
	if !strings.HasPrefix(sum.String(), "UNHEALTHY") {
		t.Errorf("summary: %s", sum.String())
	}
}

func TestRealMainUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := realMain([]string{"--publishers", "0", "--subscribers", "0"}, &out, &errb); code != 2 {
		t.Errorf("exit %d, want 2 (%s)", code, errb.String())
	}
	if code := realMain([]string{"-h"}, &out, &errb); code != 0 {
		t.Errorf("-h exit %d", code)
	}
	// A server that is not there: the run reports every bot's error.
	code := realMain([]string{"--url", "ws://127.0.0.1:1/ws", "--publishers", "1", "--subscribers", "0", "--duration", "200ms", "--quiet"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "pub-1") {
		t.Errorf("exit %d, stderr %s", code, errb.String())
	}
}
