package signaling

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadUpTo(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"short", "hello", 10, "hello"},
		{"exact", "hello", 5, "hello"},
		{"over the limit stops at it", "hello world", 6, "hello "},
		{"empty", "", 4, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, 0, 2) // forces growth
			got, err := readUpTo(iotest.OneByteReader(strings.NewReader(tc.in)), buf, tc.max)
			if err != nil || string(got) != tc.want {
				t.Errorf("readUpTo = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	big := bytes.Repeat([]byte("x"), 10000)
	got, err := readUpTo(bytes.NewReader(big), nil, 65537)
	if err != nil || len(got) != len(big) || cap(got) > 4*len(big) {
		t.Errorf("len %d cap %d err %v", len(got), cap(got), err)
	}
	boom := errors.New("boom")
	if _, err := readUpTo(iotest.ErrReader(boom), nil, 10); !errors.Is(err, boom) {
		t.Errorf("err = %v", err)
	}
}
