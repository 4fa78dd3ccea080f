package sfu

import (
	"testing"
	"time"
)

func TestDataRate(t *testing.T) {
	c := DataConfig{BytesPerSecond: 1000, MaxMessageSize: 600}
	var d dataRate
	t0 := time.Unix(100, 0)
	if ok, _ := d.allow(600, c, t0); !ok {
		t.Fatal("first message refused")
	}
	if ok, _ := d.allow(400, c, t0); !ok {
		t.Fatal("refused within the one-second burst")
	}
	ok, tell := d.allow(1, c, t0)
	if ok || !tell {
		t.Fatalf("over the burst: ok %v tell %v, want refused and told", ok, tell)
	}
	if ok, tell := d.allow(1, c, t0.Add(100*time.Microsecond)); ok || tell {
		t.Fatal("a second refusal within a second was told again")
	}
	if ok, _ := d.allow(500, c, t0.Add(500*time.Millisecond)); !ok {
		t.Fatal("half a second did not refill 500 bytes")
	}
	if ok, _ := (&dataRate{}).allow(1<<30, DataConfig{}, t0); !ok {
		t.Fatal("unlimited refused")
	}
	// A message as large as the largest allowed always fits a full bucket,
	// even when the rate is lower than one message a second.
	if ok, _ := (&dataRate{}).allow(600, DataConfig{BytesPerSecond: 100, MaxMessageSize: 600}, t0); !ok {
		t.Fatal("largest message refused by a slow rate")
	}
}
