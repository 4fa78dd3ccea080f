// Package web holds hibiki's browser side: the JavaScript client library
// (hibiki.js and its parts) and the conference page that uses it. The files
// are plain ES modules served as they are; there is no build step.
package web

import (
	"embed"
	"io/fs"
)

//go:embed *.html *.css *.js *.svg
var files embed.FS

// Files returns the static files of the conference page and the client
// library, rooted at the directory that holds index.html, for the server to
// serve at "/".
func Files() fs.FS {
	return files
}
