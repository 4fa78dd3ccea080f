package sfu

import (
	"testing"
	"time"
)

func TestDataRate(t *testing.T) {
	c := DataConfig{BytesPerSecond: 1000, MaxMessageSize: 600}
	var d dataRate
	t0 := time.Unix(100, 0)
	if over, _ := d.take(600, c, t0); over != 0 {
		t.Fatal("first message over the rate")
	}
	if over, _ := d.take(400, c, t0); over != 0 {
		t.Fatal("over within the one-second burst")
	}
	over, tell := d.take(500, c, t0)
	if over != 500*time.Millisecond || !tell {
		t.Fatalf("500 bytes over an empty bucket: over %v tell %v, want 500ms and told", over, tell)
	}
	if _, tell := d.take(1, c, t0.Add(time.Millisecond)); tell {
		t.Fatal("told twice within a second")
	}
	d.refund(1)
	if over, _ := d.take(500, c, t0.Add(time.Second)); over != 0 {
		t.Fatalf("paid debt not refilled after a second: over %v", over)
	}
	if over, _ := (&dataRate{}).take(1<<30, DataConfig{}, t0); over != 0 {
		t.Fatal("unlimited limited")
	}
	// The largest message always fits a full bucket, even when the rate is
	// lower than one message a second.
	if over, _ := (&dataRate{}).take(600, DataConfig{BytesPerSecond: 100, MaxMessageSize: 600}, t0); over != 0 {
		t.Fatal("largest message over a slow rate")
	}
}
