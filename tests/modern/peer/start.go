// Starting a plugin component the way Packer 1.16 does: `describe` read into the SDK's own
// SetDescription, then Packer's own packer.PluginClient (the magic cookie, the port range, the
// four-part handshake parser, the dial) and the SDK's rpc.Client on top (yamux, mux broker,
// net/rpc over the ugorji msgpack codec). Protobuf or gob for ConfigSpec is Packer's global
// packer.PackerUseProto, as in `packer build`: protobuf starts with `--protobuf` between kind
// and name; gob starts the installed, versioned file name without it (what Packer 1.12+ does
// when a plugin in the run is not protocol v2, or with PACKER_FORCE_GOB=1).

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	pluginsdk "github.com/hashicorp/packer-plugin-sdk/plugin"
	"github.com/hashicorp/packer/packer"
)

// wire is how ConfigSpec travels.
type wire int

const (
	protobuf wire = iota
	gob
)

func (w wire) String() string {
	if w == gob {
		return "gob"
	}
	return "protobuf"
}

// describe runs `PLUGIN describe` as Packer does (no cookie, stdout only) and decodes it into
// the SDK's SetDescription.
func describe(plugin string) (pluginsdk.SetDescription, error) {
	var d pluginsdk.SetDescription
	out, err := exec.Command(plugin, "describe").Output()
	if err != nil {
		return d, fmt.Errorf("%s describe: %v", plugin, err)
	}
	if err := json.Unmarshal(out, &d); err != nil {
		return d, fmt.Errorf("describe output %q: %v", out, err)
	}
	return d, nil
}

// installedName is the file name `packer plugins install` gives the plugin (NAME from the
// binary's own name, version and API version from describe).
func installedName(plugin string, d pluginsdk.SetDescription) string {
	base := filepath.Base(plugin)
	suffix := fmt.Sprintf("_v%s_%s_%s_%s", d.Version, d.APIVersion, runtime.GOOS, runtime.GOARCH)
	if strings.HasSuffix(base, suffix) {
		// already an installed file (packer init's or plugins install's): run it by that name
		return base
	}
	return base + suffix
}

// stderrBuf collects the plugin's stderr (its log) for failure messages.
type stderrBuf struct {
	mu  sync.Mutex
	buf []byte
}

func (s *stderrBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	return len(p), nil
}

func (s *stderrBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.buf)
}

// component is one started plugin process serving one component.
type component struct {
	client *packer.PluginClient
	stderr *stderrBuf
	wire   wire
}

// start starts `kind name` of `plugin` over `w`. For gob it runs the binary through a link with
// its installed name in `scratch`, as Packer would find it in its plugin directory.
func start(plugin, kind, name string, w wire, scratch string) (*component, error) {
	packer.PackerUseProto = w == protobuf
	var cmd *exec.Cmd
	if w == protobuf {
		cmd = exec.Command(plugin, "start", kind, "--protobuf", name)
	} else {
		d, err := describe(plugin)
		if err != nil {
			return nil, err
		}
		abs, err := filepath.Abs(plugin)
		if err != nil {
			return nil, err
		}
		link := filepath.Join(scratch, installedName(plugin, d))
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(abs, link); err != nil {
				return nil, err
			}
		}
		cmd = exec.Command(link, "start", kind, name)
	}
	errs := &stderrBuf{}
	c := packer.NewClient(&packer.PluginClientConfig{Cmd: cmd, Stderr: errs})
	if _, err := c.Start(); err != nil {
		return nil, fmt.Errorf("start %s %s over %s: %v\nplugin stderr:\n%s", kind, name, w, err, errs)
	}
	return &component{client: c, stderr: errs, wire: w}, nil
}

// kill ends the plugin process, as Packer does at the end of a run.
func (c *component) kill() { c.client.Kill() }
