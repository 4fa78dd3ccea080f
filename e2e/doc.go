// Package e2e holds hibiki's end-to-end tests: a real server (built by
// cmd/hibiki/app, in-process, on loopback) and real clients (the pion bots
// of cmd/hibiki-bots/bot) over real sockets. The browser tests live in
// e2e/browser because they need a network namespace.
package e2e
