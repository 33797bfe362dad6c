// Cases about the plugin as a whole: its describe output read by the SDK's SetDescription and
// the rules `packer plugins install` applies, every component's ConfigSpec identical over
// protobuf and gob, and amiforge's components configured with cty values (their field-named
// errors reaching the peer through Packer's error path).

package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/hcl/v2/hcldec"
)

// caseDescribe: what `packer plugins install` and plugin discovery read from describe.
func caseDescribe(env *env) (string, error) {
	d, err := describe(env.plugin)
	if err != nil {
		return "", err
	}
	if d.APIVersion != "x5.0" {
		return "", fmt.Errorf("api_version %q, Packer 1.16 accepts x5.0", d.APIVersion)
	}
	if d.ProtocolVersion != "v2" {
		return "", fmt.Errorf("protocol_version %q: without v2 Packer downgrades every plugin to gob", d.ProtocolVersion)
	}
	v, err := version.NewSemver(d.Version)
	if err != nil {
		return "", fmt.Errorf("version %q is not semver: %v", d.Version, err)
	}
	if pre := v.Prerelease(); pre != "" && pre != "dev" {
		return "", fmt.Errorf("version %q: install only takes releases or -dev", d.Version)
	}
	if len(d.Provisioners)+len(d.PostProcessors) == 0 {
		return "", fmt.Errorf("no components: %+v", d)
	}
	name := installedName(env.plugin, d)
	suffix := fmt.Sprintf("_x5.0_%s_%s", runtime.GOOS, runtime.GOARCH)
	if !strings.HasPrefix(name, "packer-plugin-") || !strings.HasSuffix(name, suffix) {
		return "", fmt.Errorf("installed name %q does not follow packer-plugin-NAME_vX.Y.Z%s", name, suffix)
	}
	return fmt.Sprintf("%s: provisioners %v, post-processors %v", name, d.Provisioners, d.PostProcessors), nil
}

// caseConfigSpec: every component's spec decodes the same through rpc.Spec.FromProto and
// through gob.
func caseConfigSpec(env *env) (string, error) {
	d, err := describe(env.plugin)
	if err != nil {
		return "", err
	}
	var seen []string
	kinds := []struct {
		kind  string
		names []string
	}{{"provisioner", d.Provisioners}, {"post-processor", d.PostProcessors}}
	for _, k := range kinds {
		for _, n := range k.names {
			var got [2]string
			for i, w := range []wire{protobuf, gob} {
				s, err := componentSpec(env, k.kind, n, w)
				if err != nil {
					return "", fmt.Errorf("%s %s over %s: %v", k.kind, n, w, err)
				}
				got[i] = s
			}
			if got[0] != got[1] {
				return "", fmt.Errorf("%s %s: protobuf spec\n%s\ndiffers from gob spec\n%s", k.kind, n, got[0], got[1])
			}
			if got[0] == "" {
				return "", fmt.Errorf("%s %s: empty spec", k.kind, n)
			}
			seen = append(seen, fmt.Sprintf("%s (%d lines)", n, strings.Count(got[0], "\n")))
		}
	}
	return "identical over protobuf and gob: " + strings.Join(seen, ", "), nil
}

func componentSpec(env *env, kind, name string, w wire) (string, error) {
	c, err := start(env.plugin, kind, name, w, env.scratch)
	if err != nil {
		return "", err
	}
	defer c.kill()
	var spec hcldec.ObjectSpec
	if kind == "provisioner" {
		p, err := c.client.Provisioner()
		if err != nil {
			return "", err
		}
		spec, err = configSpec(p.ConfigSpec)
		if err != nil {
			return "", fmt.Errorf("%v\nplugin stderr:\n%s", err, c.stderr)
		}
	} else {
		p, err := c.client.PostProcessor()
		if err != nil {
			return "", err
		}
		spec, err = configSpec(p.ConfigSpec)
		if err != nil {
			return "", fmt.Errorf("%v\nplugin stderr:\n%s", err, c.stderr)
		}
	}
	return specString(spec, ""), nil
}

// caseAmiforgeConfigure: amiforge-harden and amiforge-replicate take valid blocks and name the
// attribute of invalid ones, over protobuf.
func caseAmiforgeConfigure(env *env) (string, error) {
	return amiforgeConfigure(env, protobuf)
}

// caseAmiforgeConfigGob: the same over gob (nested blocks, maps of strings).
func caseAmiforgeConfigGob(env *env) (string, error) {
	return amiforgeConfigure(env, gob)
}

func amiforgeConfigure(env *env, w wire) (string, error) {
	_, prepare, err := startProvisioner(env, env.plugin, "harden", w)
	if err != nil {
		return "", err
	}
	if err := prepare("mode = \"audit\"\nparameters = { ssh_max_auth_tries = \"3\" }\nreport_path = \"out/h.json\""); err != nil {
		return "", fmt.Errorf("harden, valid block: %v", err)
	}
	if err := wantErr(prepare(`mode = "fix"`), `mode: "fix" is not a mode`); err != nil {
		return "", fmt.Errorf("harden: %v", err)
	}
	_, configure, err := startPostProcessor(env, "replicate", w)
	if err != nil {
		return "", err
	}
	good := "regions = [\"eu-west-1\"]\nregion_kms_key_ids = { \"eu-west-1\" = \"alias/images\" }\ntags = { team = \"platform\" }"
	if err := configure(good); err != nil {
		return "", fmt.Errorf("replicate, valid block: %v", err)
	}
	bad := `regions = ["eu-west-1", "eu_west_2"]`
	if err := wantErr(configure(bad), `regions[1]: "eu_west_2" is not a region name`); err != nil {
		return "", fmt.Errorf("replicate: %v", err)
	}
	return fmt.Sprintf("over %s: harden and replicate configured; mode and regions[1] named", w), nil
}
