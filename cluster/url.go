package cluster

import (
	"fmt"
	"net/url"
)

// HTTPBase turns a node's signaling URL (Config.NodeURL, ws:// or wss://)
// into the base of its HTTP endpoints: same host and port, http:// or
// https://, no path. The WHIP and WHEP doors redirect there: a node
// announces only one public URL, and its HTTP routes share the listener
// of its /ws endpoint.
func HTTPBase(nodeURL string) (string, error) {
	u, err := url.Parse(nodeURL)
	if err != nil {
		return "", fmt.Errorf("%w: node url %q: %w", ErrConfig, nodeURL, err)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("%w: node url %q must be a ws:// or wss:// URL", ErrConfig, nodeURL)
	}
	if u.Host == "" {
		return "", fmt.Errorf("%w: node url %q has no host", ErrConfig, nodeURL)
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String(), nil
}
