// The machine the peer hands a provisioner: a recording packersdk.Ui and a packersdk.Communicator
// that runs commands with `sh -c` in a scratch directory on this host and keeps uploads and
// downloads under it. Packer's own SDK serves both to the plugin (rpc.newServerWithMux inside
// the provisioner client's Provision), so what the plugin talks to is HashiCorp's server code.

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// recordingUi keeps every line the plugin sent, tagged by kind ("say", "message", "error",
// "machine").
type recordingUi struct {
	packersdk.NoopProgressTracker
	mu    sync.Mutex
	lines []string
}

func (u *recordingUi) add(kind, s string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.lines = append(u.lines, kind+": "+s)
}

func (u *recordingUi) Ask(q string) (string, error) { u.add("ask", q); return "", nil }
func (u *recordingUi) Askf(q string, a ...any) (string, error) {
	return u.Ask(fmt.Sprintf(q, a...))
}
func (u *recordingUi) Say(s string)                  { u.add("say", s) }
func (u *recordingUi) Sayf(s string, a ...any)       { u.Say(fmt.Sprintf(s, a...)) }
func (u *recordingUi) Message(s string)              { u.add("message", s) }
func (u *recordingUi) Error(s string)                { u.add("error", s) }
func (u *recordingUi) Errorf(s string, a ...any)     { u.Error(fmt.Sprintf(s, a...)) }
func (u *recordingUi) Machine(t string, a ...string) { u.add("machine", t+" "+strings.Join(a, ",")) }

// text is everything the Ui got, one line each.
func (u *recordingUi) text() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return strings.Join(u.lines, "\n")
}

// has reports whether a line of `kind` contains `sub`.
func (u *recordingUi) has(kind, sub string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, l := range u.lines {
		if strings.HasPrefix(l, kind+": ") && strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// localComm is a Communicator on this host: commands run under `root` (their working
// directory), remote paths are taken relative to it. It records what was asked of it.
type localComm struct {
	root string
	mu   sync.Mutex
	// started commands, uploads ("upload PATH N") and downloads ("download PATH N")
	calls   []string
	running chan struct{} // closed when the first command starts
	once    sync.Once
	pgids   []int // process groups of started commands, killed by stop
}

func newLocalComm(root string) *localComm {
	return &localComm{root: root, running: make(chan struct{})}
}

func (c *localComm) record(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, s)
}

// path maps a remote path (absolute or relative) into the machine's directory.
func (c *localComm) path(p string) string { return filepath.Join(c.root, p) }

// Start runs the command in the background and reports its exit through cmd.SetExited, as the
// SSH communicator does. (The SDK's server passes context.TODO(): a cancelled provisioner does
// not stop a remote command, in Packer as here; stop kills what is left.)
func (c *localComm) Start(_ context.Context, cmd *packersdk.RemoteCmd) error {
	c.record("start " + cmd.Command)
	sh := exec.Command("sh", "-c", cmd.Command)
	sh.Dir = c.root
	sh.Stdin = cmd.Stdin
	sh.Stdout = cmd.Stdout
	sh.Stderr = cmd.Stderr
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := sh.Start(); err != nil {
		return err
	}
	c.mu.Lock()
	c.pgids = append(c.pgids, sh.Process.Pid)
	c.mu.Unlock()
	c.once.Do(func() { close(c.running) })
	go func() {
		err := sh.Wait()
		status := 0
		if err != nil {
			status = 1
			if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() >= 0 {
				status = ee.ExitCode()
			}
		}
		cmd.SetExited(status)
	}()
	return nil
}

func (c *localComm) Upload(dst string, r io.Reader, _ *os.FileInfo) error {
	p := c.path(dst)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	c.record(fmt.Sprintf("upload %s %d", dst, n))
	return err
}

func (c *localComm) UploadDir(dst string, src string, _ []string) error {
	c.record("uploaddir " + src + " " + dst)
	return exec.Command("cp", "-r", src, c.path(dst)).Run()
}

func (c *localComm) Download(src string, w io.Writer) error {
	f, err := os.Open(c.path(src))
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, f)
	c.record(fmt.Sprintf("download %s %d", src, n))
	return err
}

func (c *localComm) DownloadDir(src string, dst string, _ []string) error {
	c.record("downloaddir " + src + " " + dst)
	return exec.Command("cp", "-r", c.path(src), dst).Run()
}

// log is what the Communicator was asked, one call a line.
func (c *localComm) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.calls, "\n")
}

// stop kills every command still running.
func (c *localComm) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pg := range c.pgids {
		_ = syscall.Kill(-pg, syscall.SIGKILL)
	}
}
