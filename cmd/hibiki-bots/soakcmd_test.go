package main

import "testing"

func TestHealthURL(t *testing.T) {
	cases := map[string]string{
		"ws://127.0.0.1:7880/ws":   "http://127.0.0.1:7880/healthz?verbose",
		"wss://sfu.example.org/ws": "https://sfu.example.org/healthz?verbose",
	}
	for in, want := range cases {
		if got, err := healthURL(in); err != nil || got != want {
			t.Errorf("healthURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
