package browser

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestLibraryUnits runs the client library's Node unit tests
// (examples/web/test, `npm test`) so that `go test ./...` covers them too.
// They need Node only, no browser and no namespace.
func TestLibraryUnits(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node not found in PATH (Debian package nodejs)")
		}
		t.Skip("node not found in PATH (Debian package nodejs)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "test/")
	cmd.Dir = "../../examples/web"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
}
