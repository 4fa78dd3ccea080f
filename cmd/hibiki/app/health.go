package app

import (
	"encoding/json"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Health is the verbose health report: enough to see that a node returns
// to its baseline after load (soak tests read it) without an admin API.
type Health struct {
	Rooms        int               `json:"rooms"`
	Participants int               `json:"participants"`
	Sessions     int               `json:"sessions"`
	Goroutines   int               `json:"goroutines"`
	OpenFiles    int               `json:"openFiles"`    // -1 where /proc is missing
	RSSBytes     int64             `json:"rssBytes"`     // -1 where /proc is missing
	HeapBytes    uint64            `json:"heapBytes"`    // Go heap in use
	Refusals     map[string]uint64 `json:"refusals"`     // refused requests by reason
	RoomsRefused uint64            `json:"roomsRefused"` // joins beyond limits.max_rooms
}

// Health returns the node's state now.
func (a *App) Health() Health {
	h := Health{Goroutines: runtime.NumGoroutine(), OpenFiles: openFiles(), RSSBytes: rssBytes()}
	for _, r := range a.sfu.Rooms() {
		h.Rooms++
		h.Participants += len(r.Local())
	}
	h.Sessions = a.sig.Sessions()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.HeapBytes = ms.HeapInuse
	h.Refusals = a.sig.Refusals().Snapshot()
	h.RoomsRefused = a.sfu.Counters().RoomsRefused.Load()
	return h
}

// health answers "ok", or with ?verbose the Health report as JSON (when
// health_verbose or development mode allows it).
func (a *App) health(w http.ResponseWriter, r *http.Request) {
	if _, verbose := r.URL.Query()["verbose"]; verbose && (a.cfg.HealthVerbose || a.cfg.Dev) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(a.Health())
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok\n"))
}

func openFiles() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}

func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return -1
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return -1
	}
	return pages * int64(os.Getpagesize())
}
