// HCP Packer registry metadata: post-processors chained the way Packer chains them (each
// PostProcess gets the artifact the previous one returned, served again by the SDK), and every
// returned artifact's State("par.artifact.metadata") decoded the way Packer 1.16's HCP registry
// code decodes it (internal/hcp/registry/types.bucket.go: mapstructure, weakly typed, into
// []image.Image, then image.Validate). The chain comes from the environment, so the Rust test
// owns the AWS emulator, the HCL and the assertions:
//
//	SDK_PEER_CHAIN={"input": {...}, "steps": [{"name": "replicate", "hcl": "..."}, ...]}
//
// The detail of the ok line is JSON: per step the artifact's builder id, id, the Go type the
// state arrived as, and the decoded images.

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"
	"github.com/mitchellh/mapstructure"
)

// chainInput is the builder's artifact the chain starts from.
type chainInput struct {
	BuilderID     string                 `json:"builder_id"`
	ID            string                 `json:"id"`
	GeneratedData map[string]interface{} `json:"generated_data"`
	// what the builder registers, answered as a Go plugin does: a []*image.Image
	Registry []*registryimage.Image `json:"registry"`
}

type chainStep struct {
	Name string `json:"name"`
	HCL  string `json:"hcl"`
}

type chain struct {
	Input chainInput  `json:"input"`
	Steps []chainStep `json:"steps"`
}

// stepResult is one post-processor's artifact as Packer's registry code sees it.
type stepResult struct {
	Name      string                `json:"name"`
	BuilderID string                `json:"builder_id"`
	ID        string                `json:"id"`
	StateType string                `json:"state_type"`
	Images    []registryimage.Image `json:"images"`
}

// builderArtifact answers like an amazon-ebs artifact.
type builderArtifact struct{ in chainInput }

func (a *builderArtifact) BuilderId() string { return a.in.BuilderID }
func (a *builderArtifact) Files() []string   { return nil }
func (a *builderArtifact) Id() string        { return a.in.ID }
func (a *builderArtifact) String() string    { return "AMIs were created: " + a.in.ID }
func (a *builderArtifact) Destroy() error    { return nil }
func (a *builderArtifact) State(name string) interface{} {
	switch name {
	case "generated_data":
		return a.in.GeneratedData
	case registryimage.ArtifactStateURI:
		if a.in.Registry == nil {
			return nil
		}
		return a.in.Registry
	}
	return nil
}

// decodeAsPacker is what Packer core does with an artifact's registry state.
func decodeAsPacker(state interface{}) ([]registryimage.Image, error) {
	if state == nil {
		return nil, errors.New("the state is nil: Packer would record no image of this artifact")
	}
	var images []registryimage.Image
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:           &images,
		WeaklyTypedInput: true,
		ErrorUnused:      false,
	})
	if err != nil {
		return nil, err
	}
	if err := dec.Decode(state); err != nil {
		return nil, fmt.Errorf("Packer could not decode it (%T): %v", state, err)
	}
	if len(images) == 0 {
		return nil, fmt.Errorf("no images in %#v", state)
	}
	for i := range images {
		if err := images[i].Validate(); err != nil {
			return nil, fmt.Errorf("image %d: %v", i, err)
		}
	}
	return images, nil
}

// caseRegistryMetadata runs the chain in SDK_PEER_CHAIN over protobuf.
func caseRegistryMetadata(env *env) (string, error) {
	var c chain
	if err := json.Unmarshal([]byte(os.Getenv("SDK_PEER_CHAIN")), &c); err != nil {
		return "", fmt.Errorf("SDK_PEER_CHAIN: %v", err)
	}
	if len(c.Steps) == 0 {
		return "", errors.New("SDK_PEER_CHAIN has no steps")
	}
	var artifact packersdk.Artifact = &builderArtifact{c.Input}
	var results []stepResult
	for _, s := range c.Steps {
		pp, configure, err := startPostProcessor(env, s.Name, protobuf)
		if err != nil {
			return "", err
		}
		if err := configure(s.HCL); err != nil {
			return "", fmt.Errorf("%s: Configure: %v", s.Name, err)
		}
		ui := &recordingUi{}
		out, _, _, err := pp.PostProcess(context.Background(), ui, artifact)
		if err != nil {
			return "", fmt.Errorf("%s: PostProcess: %v\nUi:\n%s", s.Name, err, ui.text())
		}
		if out == nil {
			return "", fmt.Errorf("%s returned no artifact", s.Name)
		}
		state := out.State(registryimage.ArtifactStateURI)
		images, err := decodeAsPacker(state)
		if err != nil {
			return "", fmt.Errorf("%s: State(%q): %v", s.Name, registryimage.ArtifactStateURI, err)
		}
		results = append(results, stepResult{
			Name:      s.Name,
			BuilderID: out.BuilderId(),
			ID:        out.Id(),
			StateType: fmt.Sprintf("%T", state),
			Images:    images,
		})
		artifact = out
	}
	detail, err := json.Marshal(results)
	return string(detail), err
}
