// Package netns holds the connectivity end-to-end tests: a hibiki server
// and pion bots in a network namespace the test binary creates for itself
// (it re-executes under `unshare --net`), where nftables rules drop UDP,
// cut a bot's link or let only TURN through. Inside its own namespace the
// suite may use the production ports (7880-7882, 3478) without clashing
// with anything else on the machine.
package netns
