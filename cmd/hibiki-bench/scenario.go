package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// botsReport is the part of the hibiki-bots JSON report the bench reads.
type botsReport struct {
	Scenario            string  `json:"scenario"`
	Rooms               int     `json:"rooms"`
	Publishers          int     `json:"publishers"`
	Subscribers         int     `json:"subscribers"`
	TracksExpected      int     `json:"tracks_expected"`
	TracksReceived      int     `json:"tracks_received"`
	VideoTracksReceived int     `json:"video_tracks_received"`
	PacketsReceived     uint64  `json:"packets_received"`
	Freezes             int     `json:"freezes"`
	ConnectErrors       int     `json:"connect_errors"`
	PacketLossPct       float64 `json:"packet_loss_pct"`
	JoinToFirstFrameMs  struct {
		P50 float64 `json:"p50"`
		P95 float64 `json:"p95"`
		Max float64 `json:"max"`
	} `json:"join_to_first_frame_ms"`
	JoinToFirstVideoMs struct {
		P50 float64 `json:"p50"`
		P95 float64 `json:"p95"`
	} `json:"join_to_first_video_frame_ms"`
	StartedAt     time.Time `json:"started_at"`
	AllReceivingS float64   `json:"all_receiving_s"`
	Series        []struct {
		T               float64 `json:"t"`
		PacketsReceived uint64  `json:"packets_received"`
	} `json:"series"`
}

// result is one scenario run, as the table shows it.
type result struct {
	Name   string
	Bots   botsReport
	Err    error
	Load1  float64 // 1-minute load average when the run started
	Steady time.Duration
	// PktsPerSec is forwarded (received by the bots) packets per second in
	// the steady window; CPUPerPkt the server's CPU per such packet, and
	// CPUPerPktAll the same over the whole run, joins included.
	PktsPerSec         float64
	CPUPerPkt          time.Duration
	CPUPerPktAll       time.Duration
	ServerCores        float64 // server CPU / wall in the steady window
	BotsCores          float64
	RSSIdle, RSSSteady int64
	RSSPerSub          float64 // bytes per received track
	RSSPerVideoSub     float64 // bytes per received video track, all growth counted
	// HeapPerSub and StackPerSub split the growth per received track into
	// Go heap and goroutine stacks (from the server's /metrics).
	HeapPerSub, StackPerSub float64
	Resent, NACKs           uint64
	JoinP50, JoinP95        float64
	// VideoJoinP50/P95 are join->first video frame (a keyframe).
	VideoJoinP50, VideoJoinP95 float64
	TracksOK, Freezes          int
	TracksExpected             int
	ProfileCPU, Profile        string
}

// settle is skipped after the last join before the steady window opens:
// keyframes and layer choices of the last joins are still in flight.
const settle = 2 * time.Second

type benchConfig struct {
	server, bots string
	duration     time.Duration
	workDir      string
	profileDir   string
	serverEnv    runList
}

// runScenario starts a fresh server, runs the bots with args against it and
// measures both processes from /proc.
func runScenario(ctx context.Context, cfg benchConfig, args []string) result {
	res := result{Name: strings.Join(args, " "), Load1: loadAvg()}
	slug := slugOf(args)
	srv, err := startServer(ctx, cfg, slug)
	if err != nil {
		res.Err = err
		return res
	}
	defer srv.stop()
	ss := startSampler(srv.cmd.Process.Pid, 500*time.Millisecond, "http://"+srv.http+"/metrics")
	time.Sleep(time.Second)
	idle, err := readProc(srv.cmd.Process.Pid)
	scrape(http.DefaultClient, "http://"+srv.http+"/metrics", &idle)
	if err != nil {
		res.Err = err
		_ = ss.finish()
		return res
	}
	jsonPath := filepath.Join(cfg.workDir, slug+".json")
	botArgs := append([]string{"--url", srv.ws, "--quiet", "--json", jsonPath, "--duration", cfg.duration.String(),
		"--room", "bench"}, args...)
	bots := exec.CommandContext(ctx, cfg.bots, botArgs...)
	logf, err := os.Create(filepath.Join(cfg.workDir, slug+"-bots.log"))
	if err != nil {
		res.Err = fmt.Errorf("bots log: %w", err)
		_ = ss.finish()
		return res
	}
	defer logf.Close()
	bots.Stdout, bots.Stderr = logf, logf
	if err := bots.Start(); err != nil {
		res.Err = fmt.Errorf("start bots: %w", err)
		_ = ss.finish()
		return res
	}
	bs := startSampler(bots.Process.Pid, 500*time.Millisecond, "")
	if cfg.profileDir != "" {
		go srv.profile(ctx, cfg, slug, &res)
	}
	berr := bots.Wait()
	botSamples := bs.finish()
	samples := ss.finish()
	var exitErr *exec.ExitError
	if berr != nil && !errors.As(berr, &exitErr) {
		res.Err = fmt.Errorf("bots: %w", berr)
		return res
	}
	if err := readJSON(jsonPath, &res.Bots); err != nil {
		res.Err = err
		return res
	}
	if err := writeSamples(filepath.Join(cfg.workDir, slug+"-server.csv"), res.Bots.StartedAt, samples); err != nil {
		res.Err = err
	}
	res.compute(idle, samples, botSamples)
	return res
}

// compute fills the figures from the bots' report and the /proc samples.
func (r *result) compute(idle sample, srv, bots []sample) {
	b := &r.Bots
	r.JoinP50, r.JoinP95 = b.JoinToFirstFrameMs.P50, b.JoinToFirstFrameMs.P95
	r.VideoJoinP50, r.VideoJoinP95 = b.JoinToFirstVideoMs.P50, b.JoinToFirstVideoMs.P95
	r.TracksOK, r.TracksExpected, r.Freezes = b.TracksReceived, b.TracksExpected, b.Freezes
	r.RSSIdle = idle.RSS
	last := srv[len(srv)-1]
	if b.PacketsReceived > 0 {
		r.CPUPerPktAll = (last.CPU - idle.CPU) / time.Duration(b.PacketsReceived)
	}
	if len(bots) > 1 {
		r.BotsCores = float64(bots[len(bots)-1].CPU-bots[0].CPU) / float64(bots[len(bots)-1].At.Sub(bots[0].At))
	}
	if b.AllReceivingS < 0 || len(b.Series) < 2 {
		return
	}
	from := b.AllReceivingS + settle.Seconds()
	i := 0
	for i < len(b.Series) && b.Series[i].T < from {
		i++
	}
	j := len(b.Series) - 1
	if j-i < 3 {
		return // a steady window under 3 s says nothing
	}
	t0 := b.StartedAt.Add(time.Duration(b.Series[i].T * float64(time.Second)))
	t1 := b.StartedAt.Add(time.Duration(b.Series[j].T * float64(time.Second)))
	s0, s1 := at(srv, t0), at(srv, t1)
	// The server's own count of forwarded packets when it was scraped,
	// else what the bots received in the same window.
	pk := b.Series[j].PacketsReceived - b.Series[i].PacketsReceived
	if s0.Scraped && s1.Scraped && s1.Forwarded > s0.Forwarded {
		pk = s1.Forwarded - s0.Forwarded
	}
	wall := s1.At.Sub(s0.At)
	if pk == 0 || wall <= 0 {
		return
	}
	r.Steady = t1.Sub(t0)
	r.PktsPerSec = float64(pk) / t1.Sub(t0).Seconds()
	r.CPUPerPkt = (s1.CPU - s0.CPU) / time.Duration(pk)
	r.ServerCores = float64(s1.CPU-s0.CPU) / float64(wall)
	r.RSSSteady = s1.RSS
	if b.TracksReceived > 0 {
		r.RSSPerSub = float64(s1.RSS-idle.RSS) / float64(b.TracksReceived)
	}
	if b.VideoTracksReceived > 0 {
		r.RSSPerVideoSub = float64(s1.RSS-idle.RSS) / float64(b.VideoTracksReceived)
	}
	if b.TracksReceived > 0 && idle.Scraped && s1.Scraped {
		r.HeapPerSub = float64(s1.Heap-idle.Heap) / float64(b.TracksReceived)
		r.StackPerSub = float64(s1.Stack-idle.Stack) / float64(b.TracksReceived)
	}
	r.Resent, r.NACKs = last.Resent, last.NACKs
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("bots report: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("bots report %s: %w", path, err)
	}
	return nil
}

// server is a hibiki server process started for one scenario.
type server struct {
	cmd   *exec.Cmd
	ws    string
	http  string
	pprof string
	log   *os.File
}

func startServer(ctx context.Context, cfg benchConfig, slug string) (*server, error) {
	httpPort, err := freePort("tcp")
	if err != nil {
		return nil, err
	}
	udpPort, err := freePort("udp")
	if err != nil {
		return nil, err
	}
	s := &server{http: "127.0.0.1:" + strconv.Itoa(httpPort)}
	s.ws = "ws://" + s.http + "/ws"
	args := []string{"--listen", s.http, "--udp-port", strconv.Itoa(udpPort), "--tcp-port", "0", "--log-level", "warn", "--dev=false"}
	if cfg.profileDir != "" {
		p, err := freePort("tcp")
		if err != nil {
			return nil, err
		}
		s.pprof = "127.0.0.1:" + strconv.Itoa(p)
		args = append(args, "--pprof", s.pprof)
	}
	if s.log, err = os.Create(filepath.Join(cfg.workDir, slug+"-server.log")); err != nil {
		return nil, fmt.Errorf("server log: %w", err)
	}
	s.cmd = exec.CommandContext(ctx, cfg.server, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.Env = append(os.Environ(), cfg.serverEnv...)
	if err := s.cmd.Start(); err != nil {
		_ = s.log.Close()
		return nil, fmt.Errorf("start server: %w", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + s.http + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("server did not become healthy: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_ = s.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	_ = s.log.Close()
}

// profile takes a 10 s CPU profile from the middle of the run and a heap
// profile after it. Profiling costs CPU: runs with --profile are for
// reading profiles, not for the table.
func (s *server) profile(ctx context.Context, cfg benchConfig, slug string, res *result) {
	wait := cfg.duration/2 - 5*time.Second
	select {
	case <-time.After(max(wait, time.Second)):
	case <-ctx.Done():
		return
	}
	cpu := filepath.Join(cfg.profileDir, slug+"-cpu.pprof")
	heap := filepath.Join(cfg.profileDir, slug+"-heap.pprof")
	if fetch(ctx, "http://"+s.pprof+"/debug/pprof/profile?seconds=10", cpu) == nil {
		res.ProfileCPU = cpu
	}
	if fetch(ctx, "http://"+s.pprof+"/debug/pprof/heap", heap) == nil {
		res.Profile = heap
	}
	_ = fetch(ctx, "http://"+s.pprof+"/debug/pprof/goroutine?debug=1", filepath.Join(cfg.profileDir, slug+"-goroutines.txt"))
}

func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("profile request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("profile file: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return fmt.Errorf("profile copy: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("profile close: %w", err)
	}
	return nil
}

// freePort asks the kernel for a free port of the network.
func freePort(network string) (int, error) {
	if network == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("free udp port: %w", err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free tcp port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func slugOf(args []string) string {
	var b strings.Builder
	for _, a := range args {
		for _, r := range strings.TrimLeft(a, "-") {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r >= 'A' && r <= 'Z':
				b.WriteRune(r)
			default:
				b.WriteByte('_')
			}
		}
		b.WriteByte('-')
	}
	return strings.TrimSuffix(b.String(), "-")
}

// loadAvg is the 1-minute load average (0 when unreadable).
func loadAvg() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
