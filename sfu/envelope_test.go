package sfu

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		env  Envelope
	}{
		{"broadcast empty payload", Envelope{Topic: "chat"}},
		{"text to one", Envelope{Flags: FlagText, Seq: 7, Topic: "chat", To: []string{"PA_A"}, Payload: []byte("hi")}},
		{"binary to many", Envelope{Seq: 1 << 31, To: []string{"PA_A", "PA_B", "PA_C"}, Payload: []byte{0, 1, 2, 255}}},
		{"no topic", Envelope{Payload: bytes.Repeat([]byte{9}, 1000)}},
		{"limits", Envelope{Topic: strings.Repeat("t", MaxTopicLen), To: []string{strings.Repeat("s", MaxSIDLen)}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := AppendSend(nil, c.env)
			if err != nil {
				t.Fatalf("AppendSend: %v", err)
			}
			got, err := ParseEnvelope(b)
			if err != nil {
				t.Fatalf("ParseEnvelope: %v", err)
			}
			if got.Flags != c.env.Flags || got.Seq != c.env.Seq || got.Topic != c.env.Topic ||
				!slices.Equal(got.To, c.env.To) || !bytes.Equal(got.Payload, c.env.Payload) {
				t.Fatalf("round trip: got %+v, want %+v", got, c.env)
			}
			d, err := ParseDelivery(AppendDeliver(nil, got.Flags, "PA_FROM", got.Topic, got.Payload))
			if err != nil || d.Kind != EnvelopeDeliver || d.From != "PA_FROM" || d.Topic != c.env.Topic ||
				d.Flags != c.env.Flags || !bytes.Equal(d.Payload, c.env.Payload) {
				t.Fatalf("delivery: %+v, %v", d, err)
			}
		})
	}
}

func TestEnvelopeRejects(t *testing.T) {
	valid, _ := AppendSend(nil, Envelope{Topic: "x", To: []string{"PA_A"}, Payload: []byte("p")})
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrEnvelopeShort},
		{"short header", valid[:5], ErrEnvelopeShort},
		{"delivery sent by a client", AppendDeliver(nil, 0, "PA_X", "t", []byte("abc")), ErrEnvelopeKind},
		{"unknown flag", append([]byte{1, 0x80}, valid[2:]...), ErrEnvelopeFlags},
		{"topic too long", append([]byte{1, 0, 0, 0, 0, 0, MaxTopicLen + 1}, make([]byte, 80)...), ErrEnvelopeTopic},
		{"topic not utf-8", []byte{1, 0, 0, 0, 0, 0, 1, 0xff, 0}, ErrEnvelopeTopic},
		{"topic truncated", []byte{1, 0, 0, 0, 0, 0, 5, 'a', 'b'}, ErrEnvelopeTopic},
		{"no destination count", []byte{1, 0, 0, 0, 0, 0, 1, 'a'}, ErrEnvelopeShort},
		{"destination truncated", []byte{1, 0, 0, 0, 0, 0, 0, 2, 3, 'a', 'b', 'c'}, ErrEnvelopeDestSID},
		{"empty destination", []byte{1, 0, 0, 0, 0, 0, 0, 1, 0}, ErrEnvelopeDestSID},
		{"destination too long", append([]byte{1, 0, 0, 0, 0, 0, 0, 1, MaxSIDLen + 1}, make([]byte, 70)...), ErrEnvelopeDestSID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParseEnvelope(c.in); !errors.Is(err, c.want) {
				t.Fatalf("ParseEnvelope(%x) = %v, want %v", c.in, err, c.want)
			}
		})
	}
}

func TestAppendSendRejectsOversizedFields(t *testing.T) {
	if _, err := AppendSend(nil, Envelope{Topic: strings.Repeat("t", MaxTopicLen+1)}); !errors.Is(err, ErrEnvelopeTopic) {
		t.Errorf("long topic: %v", err)
	}
	if _, err := AppendSend(nil, Envelope{To: make([]string, MaxDestinations+1)}); !errors.Is(err, ErrEnvelopeDestSID) {
		t.Errorf("too many destinations: %v", err)
	}
	if _, err := AppendSend(nil, Envelope{To: []string{""}}); !errors.Is(err, ErrEnvelopeDestSID) {
		t.Errorf("empty destination: %v", err)
	}
}

func TestDataErrorEnvelope(t *testing.T) {
	d, err := ParseDelivery(AppendDataError(nil, 42, DataCodeTooLarge, "payload of 70000 bytes"))
	if err != nil || d.Kind != EnvelopeError || d.Seq != 42 || d.Code != DataCodeTooLarge || d.Message != "payload of 70000 bytes" {
		t.Fatalf("got %+v, %v", d, err)
	}
	for _, bad := range [][]byte{{3, 0, 0, 0}, {3, 0, 0, 0, 0, 0, 9, 'x'}, {9, 0}} {
		if _, err := ParseDelivery(bad); err == nil {
			t.Errorf("ParseDelivery(%x) accepted", bad)
		}
	}
}

// FuzzParseEnvelope feeds arbitrary bytes, as a hostile client would send
// them, to the envelope parser: it must not panic, and whatever it accepts
// must re-encode to the same bytes (no input is read two ways).
func FuzzParseEnvelope(f *testing.F) {
	for _, e := range []Envelope{
		{Topic: "chat", Payload: []byte("hello")},
		{Flags: FlagText, Seq: 9, Topic: "game.pos", To: []string{"PA_A", "PA_B"}, Payload: []byte{1, 2, 3, 4}},
		{},
	} {
		b, _ := AppendSend(nil, e)
		f.Add(b)
	}
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 255})
	f.Add(AppendDeliver(nil, 0, "PA_X", "t", nil))
	f.Add(AppendDataError(nil, 1, "too_large", "x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := ParseDelivery(b); err == nil && d.Kind != EnvelopeDeliver && d.Kind != EnvelopeError {
			t.Fatalf("ParseDelivery accepted kind %d", d.Kind)
		}
		e, err := ParseEnvelope(b)
		if err != nil {
			return
		}
		if len(e.To) > MaxDestinations || len(e.Topic) > MaxTopicLen {
			t.Fatalf("limits exceeded: %+v", e)
		}
		again, err := AppendSend(nil, e)
		if err != nil {
			t.Fatalf("re-encode of an accepted envelope failed: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %x, parsed from %x", again, b)
		}
	})
}
