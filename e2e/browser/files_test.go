package browser

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// One browser sends a file to another during a call through the page: the
// "File" button on Bob's tile in Alice's page, progress on both sides, and
// a save link in Bob's page whose content has the file's sha256.
func TestFileBetweenBrowsers(t *testing.T) {
	requireBrowserEnv(t)
	ctx := deadline(t, 90*time.Second)
	srv := startServer(t)
	const size = 6 << 20
	data := make([]byte, size)
	_, _ = rand.NewChaCha8([32]byte{3}).Read(data)
	sum := sha256.Sum256(data)
	path := filepath.Join(t.TempDir(), "notes.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}

	alice := newBrowser(t, ctx, "alice")
	bob := newBrowser(t, ctx, "bob")
	audioOnly := url.Values{"camera": {"0"}}
	alice.open(ctx, srv.pageURL("files", "Alice", audioOnly))
	bob.open(ctx, srv.pageURL("files", "Bob", audioOnly))
	for _, b := range []*browser{alice, bob} {
		b.waitFor(ctx, "data channels open and the other participant present",
			`window.hibikiRoom && window.hibikiRoom.data.ready && window.hibikiRoom.participants.size === 1`, 30*time.Second)
	}
	input := faceTile("Bob") + `.querySelector('input.file-input')`
	alice.waitFor(ctx, "the send-file button on Bob's tile", input, 10*time.Second)
	start := time.Now()
	if err := alice.run(ctx, chromedp.SetUploadFiles(chromedp.CSS(`.tile[data-kind="face"][data-name="Bob"] input.file-input`), []string{path})); err != nil {
		t.Fatalf("choose the file: %v", err)
	}
	bob.waitFor(ctx, "the save link", `document.querySelector('#transfers li[data-direction="in"][data-state="complete"] a.save:not([hidden])')`, 60*time.Second)
	elapsed := time.Since(start)
	alice.waitFor(ctx, "the sender's progress at 100 %", `document.querySelector('#transfers li[data-direction="out"][data-state="complete"] progress').value === 1`, 10*time.Second)
	var got string
	bob.mustEval(ctx, `(async () => {
		const a = document.querySelector('#transfers li[data-direction="in"] a.save');
		const buf = await (await fetch(a.href)).arrayBuffer();
		const h = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
		return a.download + ':' + buf.byteLength + ':' + [...h].map((x) => x.toString(16).padStart(2, '0')).join('');
	})()`, &got)
	want := fmt.Sprintf("notes.bin:%d:%s", size, hex.EncodeToString(sum[:]))
	if got != want {
		t.Fatalf("Bob saved %s, want %s", got, want)
	}
	t.Logf("%d MiB from Alice's page to Bob's in %v (%.1f MB/s)", size>>20, elapsed.Round(time.Millisecond), float64(size)/elapsed.Seconds()/1e6)
}
