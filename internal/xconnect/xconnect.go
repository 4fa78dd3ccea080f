// Package xconnect turns on extended CONNECT (RFC 8441, WebSocket over
// HTTP/2) in Go's HTTP/2 server, which since Go 1.24 announces
// SETTINGS_ENABLE_CONNECT_PROTOCOL only when GODEBUG holds http2xconnect=1.
//
// net/http (and golang.org/x/net/http2) read that setting from the GODEBUG
// environment variable once, in their package initialisation; a //go:debug
// directive does not reach it, and os.Setenv in main comes too late. Import
// this package for its side effect from a main package (or a test): the Go
// spec initialises packages in import-path order among those whose imports
// are ready, and this one needs only os and strings, both of which net/http
// needs too, so "github.com/..." runs before "net/http" and
// "golang.org/x/net/http2". An explicit http2xconnect=0 in the environment
// is left alone.
package xconnect

import (
	"os"
	"strings"
)

// Setting is the GODEBUG entry this package adds.
const Setting = "http2xconnect=1"

func init() {
	env := os.Getenv("GODEBUG")
	if strings.Contains(env, "http2xconnect=") {
		return
	}
	if env != "" {
		env += ","
	}
	_ = os.Setenv("GODEBUG", env+Setting)
}

// Enabled reports whether the process runs with extended CONNECT on, as
// net/http decided it at start.
func Enabled() bool { return strings.Contains(os.Getenv("GODEBUG"), Setting) }
