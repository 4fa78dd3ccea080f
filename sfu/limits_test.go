package sfu

import (
	"errors"
	"log/slog"
	"testing"
	"time"
)

func TestMaxRooms(t *testing.T) {
	s, err := New(DefaultRTCConfig(), WithLogger(slog.New(slog.DiscardHandler)), WithMaxRooms(1), WithEmptyRoomGrace(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if _, err := s.CreateRoom("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRoom("a"); err != nil {
		t.Fatalf("an existing room was refused: %v", err)
	}
	if _, err := s.CreateRoom("b"); !errors.Is(err, ErrTooManyRooms) {
		t.Fatalf("second room: %v, want ErrTooManyRooms", err)
	}
	if _, _, err := s.Join("c", JoinRequest{Identity: "x"}, nil); !errors.Is(err, ErrTooManyRooms) {
		t.Fatalf("join creating a room: %v, want ErrTooManyRooms", err)
	}
	if n := s.Counters().RoomsRefused.Load(); n != 2 {
		t.Fatalf("refusals counted %d, want 2", n)
	}
}
