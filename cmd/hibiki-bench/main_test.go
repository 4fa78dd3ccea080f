package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestReadProcOfSelf(t *testing.T) {
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 || s.CPU < 0 {
		t.Errorf("sample %+v", s)
	}
	if _, err := readProc(-1); err == nil {
		t.Error("no error for a missing process")
	}
}

func TestScrape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# HELP x\nhibiki_packets_forwarded_total 1.5e+06\ngo_memstats_heap_inuse_bytes 2.5e+07\n"+
			"go_memstats_stack_inuse_bytes 4096\nhibiki_packets_resent_total 7\nhibiki_nacks_received_total 3\nother 1\n")
	}))
	defer srv.Close()
	var s sample
	scrape(srv.Client(), srv.URL, &s)
	if !s.Scraped || s.Forwarded != 1500000 || s.Heap != 25e6 || s.Stack != 4096 || s.Resent != 7 || s.NACKs != 3 {
		t.Errorf("scraped %+v", s)
	}
}

func TestComputeSteadyWindow(t *testing.T) {
	start := time.Unix(1000, 0)
	var r result
	r.Bots.StartedAt = start
	r.Bots.AllReceivingS = 2
	r.Bots.TracksReceived, r.Bots.VideoTracksReceived = 100, 50
	r.Bots.PacketsReceived = 20000
	for i := 1; i <= 10; i++ {
		r.Bots.Series = append(r.Bots.Series, struct {
			T               float64 `json:"t"`
			PacketsReceived uint64  `json:"packets_received"`
		}{float64(i), uint64(i * 2000)})
	}
	idle := sample{At: start, RSS: 10 << 20, Scraped: true, Heap: 5 << 20}
	var srv []sample
	for i := 0; i <= 10; i++ {
		// 10 ms of CPU and 1000 forwarded packets per second: 10 µs each.
		srv = append(srv, sample{At: start.Add(time.Duration(i) * time.Second), CPU: time.Duration(i) * 10 * time.Millisecond,
			RSS: 20 << 20, Forwarded: uint64(i * 1000), Scraped: true, Heap: 7 << 20})
	}
	r.compute(idle, srv, nil)
	if r.CPUPerPkt != 10*time.Microsecond || r.PktsPerSec != 1000 || r.RSSPerSub != float64(10<<20)/100 ||
		r.RSSPerVideoSub != float64(10<<20)/50 || r.HeapPerSub != float64(2<<20)/100 {
		t.Errorf("result %+v", r)
	}
	if r.Steady != 6*time.Second { // from t=4 (all receiving at 2 + settle) to t=10
		t.Errorf("steady window %v", r.Steady)
	}
}

func TestTableAndSlug(t *testing.T) {
	if got := slugOf([]string{"--scenario", "webinar", "--ramp", "10/s"}); got != "scenario-webinar-ramp-10_s" {
		t.Errorf("slug %q", got)
	}
	var b strings.Builder
	writeTable(&b, "test machine", documentedFloor(), false, []result{
		{Name: "x", TracksOK: 2, TracksExpected: 2, CPUPerPkt: 9 * time.Microsecond},
		{Name: "broken", Err: fmt.Errorf("boom")},
	})
	out := b.String()
	for _, want := range []string{"test machine", "from perf-floor.md", "**4.7 µs**", "| x | 2/2 |", "| 1.90 |", "error: boom"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
