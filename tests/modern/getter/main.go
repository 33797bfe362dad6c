// release-getter installs packer-plugin-amiforge from a directory of release files with Packer
// 1.16's own plugin getter: plugingetter.Requirement.InstallLatest with the github.Getter that
// `packer init` uses for github.com sources, set up exactly as `packer init` sets it up (sha256
// checksummer, this host's OS/ARCH, the SDK's API version, releases only). Only the HTTP
// transport differs: instead of api.github.com and github.com it answers from DIST, the
// `cargo xtask release` output, as GitHub would serve the release (tags from the SHA256SUMS
// names found in DIST, assets by name). Test code, built from tests/modern/go.mod
// (tests/modern/build.sh getter OUT), run by tests/tests/release_getter.rs:
//
//	release-getter DIST PLUGIN_DIR SOURCE CONSTRAINT
//
// It prints one JSON object {"installed", "version", "requests"} and exits 0, or prints
// `FAIL: why` and the requests made, and exits 1; 2 for bad usage.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-github/v75/github"
	goversion "github.com/hashicorp/go-version"
	pluginsdk "github.com/hashicorp/packer-plugin-sdk/plugin"
	"github.com/hashicorp/packer/hcl2template/addrs"
	plugingetter "github.com/hashicorp/packer/packer/plugin-getter"
	ghgetter "github.com/hashicorp/packer/packer/plugin-getter/github"
)

// dist serves a release directory the way GitHub serves a repository's tags and release assets.
type dist struct {
	dir      string
	mu       sync.Mutex
	requests []string
}

var sumsName = regexp.MustCompile(`^packer-plugin-[a-z0-9-]+_(v[^_]+)_SHA256SUMS$`)

func (d *dist) RoundTrip(req *http.Request) (*http.Response, error) {
	d.mu.Lock()
	d.requests = append(d.requests, req.Method+" "+req.URL.String())
	d.mu.Unlock()
	switch {
	case req.URL.Host == "api.github.com" && strings.HasSuffix(req.URL.Path, "/git/matching-refs/tags"):
		return d.tags(req)
	case req.URL.Host == "github.com" && strings.Contains(req.URL.Path, "/releases/download/"):
		name := filepath.Base(req.URL.Path)
		tag := filepath.Base(filepath.Dir(req.URL.Path))
		if !strings.HasPrefix(name, "packer-plugin-") || !strings.Contains(name, "_"+tag+"_") {
			return reply(req, http.StatusNotFound, nil), nil
		}
		body, err := os.ReadFile(filepath.Join(d.dir, name))
		if err != nil {
			return reply(req, http.StatusNotFound, nil), nil
		}
		return reply(req, http.StatusOK, body), nil
	}
	return reply(req, http.StatusNotFound, nil), nil
}

// tags lists one `refs/tags/vX` per SHA256SUMS file in the directory (a release per version).
func (d *dist) tags(req *http.Request) (*http.Response, error) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, err
	}
	type ref struct {
		Ref string `json:"ref"`
	}
	refs := []ref{}
	for _, e := range entries {
		if m := sumsName.FindStringSubmatch(e.Name()); m != nil {
			refs = append(refs, ref{Ref: "refs/tags/" + m[1]})
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Ref < refs[j].Ref })
	body, err := json.Marshal(refs)
	if err != nil {
		return nil, err
	}
	return reply(req, http.StatusOK, body), nil
}

func reply(req *http.Request, status int, body []byte) *http.Response {
	return &http.Response{
		StatusCode: status,
		Status:     http.StatusText(status),
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     http.Header{"Content-Type": []string{"application/octet-stream"}},
		Body:       io.NopCloser(bytes.NewReader(body)),
		Request:    req,
	}
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: release-getter DIST PLUGIN_DIR SOURCE CONSTRAINT")
		os.Exit(2)
	}
	d := &dist{dir: os.Args[1]}
	installed, err := install(d, os.Args[2], os.Args[3], os.Args[4])
	d.mu.Lock()
	requests := d.requests
	d.mu.Unlock()
	if err != nil {
		fmt.Printf("FAIL: %v\nrequests:\n  %s\n", err, strings.Join(requests, "\n  "))
		os.Exit(1)
	}
	out, _ := json.Marshal(map[string]any{
		"installed": installed.BinaryPath,
		"version":   installed.Version,
		"requests":  requests,
	})
	fmt.Println(string(out))
}

func install(d *dist, pluginDir, source, constraint string) (*plugingetter.Installation, error) {
	id, err := addrs.ParsePluginSourceString(source)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", source, err)
	}
	constraints, err := goversion.NewConstraint(constraint)
	if err != nil {
		return nil, fmt.Errorf("constraint %q: %w", constraint, err)
	}
	req := &plugingetter.Requirement{Accessor: id.Name(), Identifier: id, VersionConstraints: constraints}
	// as packer init (command/init.go) sets them
	opts := plugingetter.BinaryInstallationOptions{
		OS:              runtime.GOOS,
		ARCH:            runtime.GOARCH,
		APIVersionMajor: pluginsdk.APIVersionMajor,
		APIVersionMinor: pluginsdk.APIVersionMinor,
		Checksummers:    []plugingetter.Checksummer{{Type: "sha256", Hash: sha256.New()}},
		ReleasesOnly:    true,
	}
	getter := &ghgetter.Getter{
		Client: github.NewClient(&http.Client{Transport: d}),
		Name:   "github.com",
	}
	got, err := req.InstallLatest(plugingetter.InstallOptions{
		PluginDirectory:           pluginDir,
		BinaryInstallationOptions: opts,
		Getters:                   []plugingetter.Getter{getter},
	})
	if err != nil {
		return nil, err
	}
	if got == nil {
		return nil, fmt.Errorf("nothing installed (already installed?)")
	}
	return got, nil
}
