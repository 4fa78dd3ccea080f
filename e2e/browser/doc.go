// Package browser tests hibiki's conference page (examples/web) and its
// client library in real headless Chromium, driven over the DevTools
// protocol by chromedp, against a server running in the test process.
//
// Chromium cannot finish ICE gathering with loopback alone, and the
// machine's own addresses are not allowed as media targets, so TestMain
// re-executes the test binary inside a fresh network namespace
// (`unshare --net`) holding only loopback and a veth pair, 10.77.0.1/24 and
// 10.77.0.2/24. The server offers candidates on 127.0.0.1 and 10.77.0.1 only.
// Where namespaces cannot be made the tests skip, naming what is missing,
// except under CI=true, where they fail.
//
// Everything is asserted from the page: RTCPeerConnection.getStats() read
// through window.hibikiRoom, and the DOM of the tiles.
package browser
