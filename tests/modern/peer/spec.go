// ConfigSpec and configuration the way Packer 1.16's HCL2 code does it: the component's
// hcldec.ObjectSpec comes through the SDK client's ConfigSpec (protobuf via rpc.Spec.FromProto,
// or gob with the hcldec types the SDK registers); a block of HCL is decoded against it with
// hcldec.Decode, unknowns replaced by Packer's own shim.WriteUnknownPlaceholderValues, and the
// cty.Value handed to Prepare/Configure after the builder variables map (the SDK client turns
// it into cty JSON bytes, rpc/cty_encode.go).

package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	shim "github.com/hashicorp/packer/hcl2template/shim"
	"github.com/zclconf/go-cty/cty"
)

// secretValue is a sensitive variable's value; the plugin must never show it.
const secretValue = "s3cret-value-4711"

// builderVars is what Packer 1.16 passes first to Prepare/Configure (source.builderVariables
// plus the core's entries, hcl2template/types.build.provisioners.go).
func builderVars() map[string]interface{} {
	return map[string]interface{}{
		"packer_build_name":          "peer",
		"packer_builder_type":        "null",
		"packer_core_version":        "1.16.0",
		"packer_debug":               "false",
		"packer_force":               "false",
		"packer_on_error":            "cleanup",
		"packer_sensitive_variables": []string{secretValue},
		"packer_user_variables":      map[string]string{},
	}
}

// configSpec asks the component for its spec; the SDK client panics on a bad reply, which is
// turned into an error here.
func configSpec(get func() hcldec.ObjectSpec) (spec hcldec.ObjectSpec, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ConfigSpec: %v", r)
		}
	}()
	return get(), nil
}

// decodeHCL decodes the body `src` against `spec` as Packer does for a provisioner or
// post-processor block.
func decodeHCL(spec hcldec.ObjectSpec, src string) (cty.Value, error) {
	f, diags := hclsyntax.ParseConfig([]byte(src), "peer.pkr.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	v, diags := hcldec.Decode(f.Body, spec, &hcl.EvalContext{})
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	return shim.WriteUnknownPlaceholderValues(v), nil
}

// specString renders a spec canonically (sorted, one line per attribute or block) so that the
// protobuf and gob decodings can be compared and shown.
func specString(s hcldec.Spec, indent string) string {
	switch v := s.(type) {
	case hcldec.ObjectSpec:
		return objectString(v, indent)
	case *hcldec.ObjectSpec:
		return objectString(*v, indent)
	case *hcldec.AttrSpec:
		return fmt.Sprintf("attr %s %s required=%v", v.Name, v.Type.FriendlyName(), v.Required)
	case *hcldec.BlockSpec:
		return fmt.Sprintf("block %s required=%v {\n%s%s}", v.TypeName, v.Required,
			specString(v.Nested, indent+"  "), indent)
	case *hcldec.BlockListSpec:
		return fmt.Sprintf("block-list %s min=%d max=%d {\n%s%s}", v.TypeName, v.MinItems, v.MaxItems,
			specString(v.Nested, indent+"  "), indent)
	case *hcldec.BlockAttrsSpec:
		return fmt.Sprintf("block-attrs %s %s required=%v", v.TypeName, v.ElementType.FriendlyName(), v.Required)
	case *hcldec.BlockObjectSpec:
		return fmt.Sprintf("block-object %s labels=%v {\n%s%s}", v.TypeName, v.LabelNames,
			specString(v.Nested, indent+"  "), indent)
	default:
		return fmt.Sprintf("%T %#v", s, s)
	}
}

func objectString(o hcldec.ObjectSpec, indent string) string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s%s: %s\n", indent, k, specString(o[k], indent))
	}
	return b.String()
}

// wantErr passes when err is non-nil and its text contains every one of `subs`.
func wantErr(err error, subs ...string) error {
	if err == nil {
		return fmt.Errorf("succeeded, wanted an error containing %q", subs)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			return fmt.Errorf("error %q lacks %q", err, s)
		}
	}
	return nil
}
