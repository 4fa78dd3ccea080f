// Package relay is hibiki's embedded TURN server (pion/turn): it lets
// clients behind UDP-blocking firewalls reach the SFU over TURN/UDP,
// TURN/TCP or TURN/TLS (port 443 passes most corporate proxies), and it is
// the path media takes in relay-only rooms.
//
// It is not an open relay: credentials are short-lived (the TURN REST API
// scheme, see Credentials), relay addresses are the SFU's own configured
// IPs, and permissions are granted only towards the SFU's own addresses, so
// an authenticated client can reach nothing but this server's media ports.
package relay
