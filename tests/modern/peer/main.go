// sdk-peer plays Packer 1.16 against a packer-sdk plugin binary with HashiCorp's own code:
// Packer's packer.PluginClient starts the component and reads the four-part handshake, and the
// packer-plugin-sdk module's rpc client (the version Packer 1.16.0 pins) makes every call; the
// Ui, Communicator and input artifact handed to the plugin are served by the SDK's rpc server.
// It is test code: built from tests/modern/go.mod (tests/modern/build.sh peer OUT), run by the
// Rust tests in tests/tests/modern_peer.rs, one case per process:
//
//	sdk-peer CASE PLUGIN
//
// It prints `ok: CASE (detail)` and exits 0, or `FAIL: CASE: why` (then Packer's log, which
// holds the plugin's stderr) and exits 1; 2 for bad usage.
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// env is what a case works with; atExit functions run when the case ends, in reverse order.
type env struct {
	plugin    string
	scratch   string
	onMachine func(*localComm)
	mu        sync.Mutex
	cleanups  []func()
}

func (e *env) atExit(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cleanups = append(e.cleanups, f)
}

func (e *env) cleanup() {
	e.mu.Lock()
	fs := e.cleanups
	e.cleanups = nil
	e.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// cases by name; each returns a detail for its ok line.
var cases = map[string]func(*env) (string, error){
	"describe":            caseDescribe,
	"config-spec":         caseConfigSpec,
	"prepare":             casePrepare,
	"provision":           caseProvision,
	"provision-gob":       caseGob,
	"transfer-50mib":      caseTransfer,
	"failing-command":     caseFailingCommand,
	"cancel":              caseCancel,
	"post-process":        casePostProcess,
	"post-process-gob":    caseGobPostProcess,
	"amiforge-configure":  caseAmiforgeConfigure,
	"amiforge-config-gob": caseAmiforgeConfigGob,
	"registry-metadata":   caseRegistryMetadata,
}

const caseTimeout = 3 * time.Minute

func main() {
	if len(os.Args) != 3 || cases[os.Args[1]] == nil {
		names := make([]string, 0, len(cases))
		for n := range cases {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: sdk-peer CASE PLUGIN\ncases: %s\n", strings.Join(names, " "))
		os.Exit(2)
	}
	name, plugin := os.Args[1], os.Args[2]
	// Packer's and the SDK's log (with the plugin's stderr) is shown only on failure
	var logs bytes.Buffer
	var logMu sync.Mutex
	log.SetOutput(lockedWriter{&logs, &logMu})
	scratch, err := os.MkdirTemp("", "sdk-peer")
	if err != nil {
		fmt.Printf("FAIL: %s: %v\n", name, err)
		os.Exit(1)
	}
	e := &env{plugin: plugin, scratch: scratch}
	detail, err := run(e, cases[name])
	e.cleanup()
	_ = os.RemoveAll(scratch)
	if err != nil {
		fmt.Printf("FAIL: %s: %v\n", name, err)
		logMu.Lock()
		fmt.Fprintf(os.Stderr, "--- Packer's log:\n%s", logs.String())
		logMu.Unlock()
		os.Exit(1)
	}
	fmt.Printf("ok: %s (%s)\n", name, detail)
}

// run runs one case with a deadline, turning a panic into an error.
func run(e *env, f func(*env) (string, error)) (string, error) {
	type result struct {
		detail string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{"", fmt.Errorf("panic: %v", r)}
			}
		}()
		d, err := f(e)
		done <- result{d, err}
	}()
	select {
	case r := <-done:
		return r.detail, r.err
	case <-time.After(caseTimeout):
		return "", fmt.Errorf("timed out after %s", caseTimeout)
	}
}

type lockedWriter struct {
	buf *bytes.Buffer
	mu  *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}
