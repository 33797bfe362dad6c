// Post-processor cases against `scaffold-wrap`: Configure with cty values (and the field-named
// error), PostProcess with an input artifact the SDK serves for the peer, and the plugin's own
// artifact used through the SDK's artifact client on the stream id the plugin issued.

package main

import (
	"context"
	"fmt"
	"strings"
	"sync"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

const inputID = "us-east-1:ami-0123,us-west-2:ami-0456"

// inputArtifact is what a builder would have produced; it records the calls made on it.
type inputArtifact struct {
	mu    sync.Mutex
	calls []string
}

func (a *inputArtifact) rec(s string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, s)
}

func (a *inputArtifact) BuilderId() string { a.rec("BuilderId"); return "mitchellh.amazonebs" }
func (a *inputArtifact) Files() []string   { a.rec("Files"); return nil }
func (a *inputArtifact) Id() string        { a.rec("Id"); return inputID }
func (a *inputArtifact) String() string    { a.rec("String"); return "AMIs were created: " + inputID }
func (a *inputArtifact) State(name string) interface{} {
	a.rec("State " + name)
	return nil
}
func (a *inputArtifact) Destroy() error { a.rec("Destroy"); return nil }

// startPostProcessor starts `name` over `w` and returns it with a Configure that decodes HCL
// against its spec.
func startPostProcessor(env *env, name string, w wire) (packersdk.PostProcessor, func(string) error, error) {
	c, err := start(env.plugin, "post-processor", name, w, env.scratch)
	if err != nil {
		return nil, nil, err
	}
	env.atExit(c.kill)
	pp, err := c.client.PostProcessor()
	if err != nil {
		return nil, nil, err
	}
	spec, err := configSpec(pp.ConfigSpec)
	if err != nil {
		return nil, nil, fmt.Errorf("%v\nplugin stderr:\n%s", err, c.stderr)
	}
	configure := func(src string) error {
		v, err := decodeHCL(spec, src)
		if err != nil {
			return err
		}
		// HCL2PostProcessor.HCL2Prepare: builder variables, then the block's cty value
		return pp.Configure(builderVars(), v)
	}
	return pp, configure, nil
}

// casePostProcess: Configure names a bad `note`; a good one configures; PostProcess reads the
// input artifact, answers keep = true, and hands back an artifact that answers every call.
func casePostProcess(env *env) (string, error) {
	return postProcessOver(env, protobuf)
}

// caseGobPostProcess: the same with ConfigSpec over gob.
func caseGobPostProcess(env *env) (string, error) {
	return postProcessOver(env, gob)
}

func postProcessOver(env *env, w wire) (string, error) {
	pp, configure, err := startPostProcessor(env, "wrap", w)
	if err != nil {
		return "", err
	}
	if err := wantErr(configure(`note = ""`), "note"); err != nil {
		return "", err
	}
	if err := configure(`note = "wrapped by the sdk peer"`); err != nil {
		return "", fmt.Errorf("Configure: %v", err)
	}
	ui, in := &recordingUi{}, &inputArtifact{}
	out, keep, force, err := pp.PostProcess(context.Background(), ui, in)
	if err != nil {
		return "", fmt.Errorf("PostProcess: %v\nUi:\n%s", err, ui.text())
	}
	if out == nil || !keep || force {
		return "", fmt.Errorf("PostProcess answered artifact %v, keep %v, force %v", out, keep, force)
	}
	if !ui.has("say", inputID) {
		return "", fmt.Errorf("no Say naming the input artifact; Ui:\n%s", ui.text())
	}
	if id := out.Id(); id != inputID {
		return "", fmt.Errorf("output Id %q, want %q", id, inputID)
	}
	if s := out.String(); !strings.Contains(s, "wrapped by the sdk peer") {
		return "", fmt.Errorf("output String %q lacks the note", s)
	}
	if b := out.BuilderId(); b == "" {
		return "", fmt.Errorf("output BuilderId is empty")
	}
	_ = out.Files()
	_ = out.State("anything")
	if err := out.Destroy(); err != nil {
		return "", fmt.Errorf("output Destroy: %v", err)
	}
	in.mu.Lock()
	calls := strings.Join(in.calls, ",")
	in.mu.Unlock()
	if !strings.Contains(calls, "Id") {
		return "", fmt.Errorf("the plugin never asked the input artifact's Id (calls: %s)", calls)
	}
	return fmt.Sprintf("over %s: output %s (%s); input asked: %s", w, out.Id(), out.BuilderId(), calls), nil
}
