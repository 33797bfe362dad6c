// Provisioner cases against `scaffold-run`: Prepare with cty values (and its field-named
// errors), Provision through the SDK-served Ui and Communicator (streamed output, environment,
// masked secrets), a 50 MiB upload and download, a failing command, and a cancel while a
// command runs.

package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// provisioner is a started `scaffold-run` (or any provisioner) with its spec.
type provisioner struct {
	*component
	p packersdk.Provisioner
}

// startProvisioner starts provisioner `name` of `plugin` over `w`, asks its ConfigSpec and
// returns it ready for Prepare.
func startProvisioner(env *env, plugin, name string, w wire) (*provisioner, func(string) error, error) {
	c, err := start(plugin, "provisioner", name, w, env.scratch)
	if err != nil {
		return nil, nil, err
	}
	env.atExit(c.kill)
	p, err := c.client.Provisioner()
	if err != nil {
		return nil, nil, err
	}
	spec, err := configSpec(p.ConfigSpec)
	if err != nil {
		return nil, nil, fmt.Errorf("%v\nplugin stderr:\n%s", err, c.stderr)
	}
	prepare := func(src string) error {
		v, err := decodeHCL(spec, src)
		if err != nil {
			return err
		}
		// HCL2Prepare: builder variables, the block's cty value, no override
		return p.Prepare(builderVars(), v, nil)
	}
	return &provisioner{component: c, p: p}, prepare, nil
}

// generated is the builder's generated data Packer passes to Provision.
func generated() map[string]interface{} {
	return map[string]interface{}{
		"Host":           "peer-host",
		"Port":           22,
		"User":           "admin",
		"Password":       secretValue,
		"PackerRunUUID":  "00000000-0000-4000-8000-000000000001",
		"PackerHTTPAddr": "",
	}
}

// casePrepare: a valid block prepares (twice, as Packer does before provisioning), each invalid
// one fails naming its attribute, and an attribute the spec lacks is refused by HCL itself.
func casePrepare(env *env) (string, error) {
	_, prepare, err := startProvisioner(env, env.plugin, "run", protobuf)
	if err != nil {
		return "", err
	}
	good := "inline = [\"echo one\", \"echo two\"]\nenv {\n  name  = \"GREETING\"\n  value = \"hello\"\n}\n"
	for i := 0; i < 2; i++ {
		if err := prepare(good); err != nil {
			return "", fmt.Errorf("valid config, Prepare %d: %v", i+1, err)
		}
	}
	bad := []struct{ src, want string }{
		{"inline = [\"ok\", \"  \"]", "inline[1]"},
		{"upload_source = \"/etc/hostname\"", "upload_destination"},
		{"inline = [\"true\"]\nenv {\n  name  = \"1bad\"\n  value = \"x\"\n}", "env[0].name"},
		{"inline = []", "inline"},
		{"inline = [\"true\"]\nnope = 1", "An argument named \"nope\" is not expected here"},
	}
	for _, b := range bad {
		if err := wantErr(prepare(b.src), b.want); err != nil {
			return "", fmt.Errorf("%q: %v", b.src, err)
		}
	}
	return fmt.Sprintf("1 valid block prepared twice, %d invalid ones named", len(bad)), nil
}

// provision prepares `src` and runs Provision on a fresh machine; it returns the Ui, the
// Communicator and Provision's error.
func provision(env *env, w wire, src string, ctx context.Context) (*recordingUi, *localComm, error) {
	p, prepare, err := startProvisioner(env, env.plugin, "run", w)
	if err != nil {
		return nil, nil, err
	}
	if err := prepare(src); err != nil {
		return nil, nil, fmt.Errorf("Prepare: %v", err)
	}
	root, err := os.MkdirTemp(env.scratch, "machine")
	if err != nil {
		return nil, nil, err
	}
	ui, comm := &recordingUi{}, newLocalComm(root)
	env.atExit(comm.stop)
	if env.onMachine != nil {
		env.onMachine(comm)
	}
	err = p.p.Provision(ctx, ui, comm, generated())
	return ui, comm, err
}

// caseProvision: commands run in order through the Communicator, stdout reaches the Ui as
// Message and stderr as Error, `env` blocks reach the command, and the sensitive value never reaches
// the Ui.
func caseProvision(env *env) (string, error) {
	return provisionOver(env, protobuf)
}

func provisionOver(env *env, w wire) (string, error) {
	src := `inline = ["echo out-line", "echo err-line >&2", "echo greeting=$GREETING", "echo pass=` + secretValue + `"]
env {
  name  = "GREETING"
  value = "hello there"
}
`
	ui, comm, err := provision(env, w, src, context.Background())
	if err != nil {
		return "", fmt.Errorf("Provision: %v\nUi:\n%s", err, textOf(ui))
	}
	checks := []struct {
		kind, sub string
	}{
		{"say", "scaffold-run on peer-host"},
		{"say", "running command 1 of 4: echo out-line"},
		{"message", "out-line"},
		{"error", "err-line"},
		{"message", "greeting=hello there"},
		{"message", "pass=<sensitive>"},
	}
	for _, c := range checks {
		if !ui.has(c.kind, c.sub) {
			return "", fmt.Errorf("no %s line with %q; Ui:\n%s", c.kind, c.sub, ui.text())
		}
	}
	if strings.Contains(ui.text(), secretValue) {
		return "", fmt.Errorf("the sensitive value reached the Ui:\n%s", ui.text())
	}
	starts := strings.Count(comm.log(), "start ")
	if starts != 4 {
		return "", fmt.Errorf("%d commands started, want 4:\n%s", starts, comm.log())
	}
	return fmt.Sprintf("over %s: 4 commands, output streamed, secret masked", w), nil
}

// caseGob: the same Provision with ConfigSpec over gob (the installed name, no --protobuf).
func caseGob(env *env) (string, error) {
	return provisionOver(env, gob)
}

// caseTransfer: 50 MiB up through Communicator.Upload and back down through Download,
// byte-identical both ways.
func caseTransfer(env *env) (string, error) {
	const size = 50 << 20
	src := filepath.Join(env.scratch, "src.bin")
	if err := writeRandom(src, size); err != nil {
		return "", err
	}
	back := filepath.Join(env.scratch, "back.bin")
	hcl := fmt.Sprintf(`upload_source        = %q
upload_destination   = "up/big.bin"
inline               = ["cp up/big.bin down.bin"]
download_source      = "down.bin"
download_destination = %q
`, src, back)
	started := time.Now()
	ui, comm, err := provision(env, protobuf, hcl, context.Background())
	took := time.Since(started)
	if err != nil {
		return "", fmt.Errorf("Provision: %v\nUi:\n%s", err, textOf(ui))
	}
	want, err := digest(src)
	if err != nil {
		return "", err
	}
	for _, p := range []string{filepath.Join(comm.root, "up/big.bin"), back} {
		got, err := digest(p)
		if err != nil {
			return "", err
		}
		if got != want {
			return "", fmt.Errorf("%s differs from what was uploaded", p)
		}
	}
	for _, call := range []string{fmt.Sprintf("upload up/big.bin %d", size), fmt.Sprintf("download down.bin %d", size)} {
		if !strings.Contains(comm.log(), call) {
			return "", fmt.Errorf("no %q in the Communicator's calls:\n%s", call, comm.log())
		}
	}
	mib := float64(2*size) / (1 << 20)
	return fmt.Sprintf("50 MiB each way in %.2f s (%.0f MiB/s)", took.Seconds(), mib/took.Seconds()), nil
}

// caseFailingCommand: a command exiting 7 fails Provision naming the status; later commands
// never start.
func caseFailingCommand(env *env) (string, error) {
	src := `inline = ["echo before", "echo broken >&2; exit 7", "echo never"]`
	ui, comm, err := provision(env, protobuf, src, context.Background())
	if err == nil {
		return "", fmt.Errorf("Provision succeeded; Ui:\n%s", ui.text())
	}
	if e := wantErr(err, "exited with status 7"); e != nil {
		return "", e
	}
	if !ui.has("error", "broken") {
		return "", fmt.Errorf("stderr of the failing command not in the Ui:\n%s", ui.text())
	}
	if strings.Contains(comm.log(), "echo never") {
		return "", fmt.Errorf("a command after the failure started:\n%s", comm.log())
	}
	return "error: " + err.Error(), nil
}

// caseCancel: cancelling the context while a command runs makes the SDK client call
// Provisioner.Cancel; Provision returns an error promptly.
func caseCancel(env *env) (string, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		ui  *recordingUi
		err error
	}
	var comm *localComm
	done := make(chan result, 1)
	ready := make(chan *localComm, 1)
	env.onMachine = func(c *localComm) { ready <- c }
	go func() {
		ui, _, err := provision(env, protobuf, `inline = ["sleep 60"]`, ctx)
		done <- result{ui, err}
	}()
	select {
	case comm = <-ready:
	case r := <-done:
		return "", fmt.Errorf("Provision ended before the command started: %v", r.err)
	case <-time.After(30 * time.Second):
		return "", errors.New("no machine after 30 s")
	}
	select {
	case <-comm.running:
	case <-time.After(30 * time.Second):
		return "", fmt.Errorf("the command did not start; calls:\n%s", comm.log())
	}
	cancelled := time.Now()
	cancel()
	select {
	case r := <-done:
		if r.err == nil {
			return "", errors.New("Provision succeeded after cancel")
		}
		return fmt.Sprintf("Provision returned %.2f s after cancel: %v", time.Since(cancelled).Seconds(), r.err), nil
	case <-time.After(15 * time.Second):
		return "", errors.New("Provision still running 15 s after cancel")
	}
}

func writeRandom(path string, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	x := uint64(0x9e3779b97f4a7c15)
	buf := make([]byte, 1<<16)
	for left := n; left > 0; left -= int64(len(buf)) {
		for i := 0; i < len(buf); i += 8 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			for j := 0; j < 8; j++ {
				buf[i+j] = byte(x >> (8 * j))
			}
		}
		chunk := buf
		if left < int64(len(buf)) {
			chunk = buf[:left]
		}
		if _, err := f.Write(chunk); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func digest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

func textOf(ui *recordingUi) string {
	if ui == nil {
		return "(none)"
	}
	return ui.text()
}
